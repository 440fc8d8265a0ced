import { describe, expect, it } from 'vitest';
import { checkAny, children, content, fields, integerBytes, oidString, readTop } from './decode.ts';
import { generalizedTime, oid, smallInt, tlv, time, uint } from './encode.ts';

const hex = (b: Buffer) => b.toString('hex');

describe('DER encoding (X.690 vectors)', () => {
  it.each([
    ['1.2.840.10045.2.1', '06072a8648ce3d0201'],
    ['1.3.101.112', '06032b6570'],
    ['2.5.29.15', '0603551d0f'],
    ['1.3.6.1.5.5.7.48.1', '06082b06010505073001'],
    ['2.999.3', '0603883703'],
  ])('OID %s', (dotted, expected) => {
    expect(hex(oid(dotted))).toBe(expected);
    expect(oidString(readTop(oid(dotted)))).toBe(dotted);
  });

  it.each([
    [0, '020100'],
    [127, '02017f'],
    [128, '02020080'],
    [256, '02020100'],
  ])('INTEGER %d', (n, expected) => expect(hex(smallInt(n))).toBe(expected));

  it('unsigned magnitudes get a sign octet only when needed, and leading zeros are trimmed', () => {
    expect(hex(uint(Buffer.from([0x80])))).toBe('02020080');
    expect(hex(uint(Buffer.from([0x00, 0x00, 0x7f])))).toBe('02017f');
  });

  it('long-form lengths', () => {
    expect(hex(tlv(0x04, Buffer.alloc(200))).slice(0, 6)).toBe('0481c8');
    expect(hex(tlv(0x04, Buffer.alloc(300))).slice(0, 8)).toBe('0482012c');
  });

  it('UTCTime until 2049, GeneralizedTime from 2050 (RFC 5280 §4.1.2.5)', () => {
    expect(content(readTop(time(new Date('2049-12-31T23:59:59Z')))).toString()).toBe('491231235959Z');
    expect(time(new Date('2050-01-01T00:00:00Z'))[0]).toBe(0x18);
    expect(content(readTop(generalizedTime(new Date('2026-11-25T10:00:00.123Z')))).toString()).toBe(
      '20261125100000Z',
    );
  });
});

describe('strict DER decoding', () => {
  it.each([
    ['truncated', '3005020101'],
    ['indefinite length', '3080020101 0000'],
    ['non-minimal length', '308103020101'],
    ['trailing bytes', '300302010100'],
    ['child runs past parent', '3003020201'],
    ['empty', ''],
  ])('rejects %s', (_name, h) => {
    const buf = Buffer.from(h.replace(/ /g, ''), 'hex');
    expect(() => {
      const n = readTop(buf);
      children(n);
    }).toThrow(/malformed DER/);
  });
});

describe('fixed shapes and ANY values', () => {
  const node = (h: string) => readTop(Buffer.from(h.replace(/ /g, ''), 'hex'));

  it('fields() refuses a SEQUENCE with fewer or more elements than its type has', () => {
    expect(fields(node('3006 020100 020101'), 0x30, 'pair', 2)).toHaveLength(2);
    expect(() => fields(node('3003 020100'), 0x30, 'pair', 2)).toThrow(/has 1 elements, needs 2/);
    expect(() => fields(node('3008 020100 020101 0500'), 0x30, 'pair', 2)).toThrow(/at most 2/);
  });

  it.each([
    ['0200', /empty INTEGER/],
    ['0202 007f', /non-minimal/],
    ['0202 ff80', /non-minimal/],
  ])('integerBytes refuses %s', (h, msg) => expect(() => integerBytes(node(h), 'n')).toThrow(msg));

  it.each([
    ['BOOLEAN 01', '010101'],
    ['BOOLEAN of two octets', '0102ff00'],
    ['NULL with content', '050100'],
    ['BIT STRING with 8 unused bits', '03020800'],
    ['BIT STRING with non-zero unused bits', '030201ff'],
    ['empty OID', '0600'],
    ['invalid UTF-8', '0c02c328'],
    ['odd BMPString', '1e0100'],
    ['constructed OCTET STRING (BER only)', '2403 040100'],
    ['end-of-contents', '3002 0000'],
    ['a bad time', '170131'],
  ])('checkAny refuses %s', (_n, h) => expect(() => checkAny(node(h))).toThrow(/malformed DER/));

  it('checkAny accepts what DER allows, nested', () => {
    expect(() => checkAny(node('3013 0101ff 020100 0500 06032b6570 0c02c3a9 a000'))).not.toThrow();
  });
});
