// X.501 Name: encode from ordered attributes, decode to attributes. Only single-valued RDNs
// are produced; multi-valued RDNs in a CSR are read but flattened.
import { children, DerError, expect, fields, oidString, raw, stringValue, type Node } from '../der/decode.ts';
import { oid, printable, seq, setOf, utf8 } from '../der/encode.ts';
import { OID } from './oids.ts';

export interface NameAttribute {
  readonly type: string;
  readonly value: string;
}

const PRINTABLE = /^[A-Za-z0-9 '()+,\-./:=?]*$/;

export function encodeName(attrs: readonly NameAttribute[]): Buffer {
  return seq(
    ...attrs.map((a) =>
      setOf(
        seq(
          oid(a.type),
          a.type !== OID.serialNumber && !PRINTABLE.test(a.value) ? utf8(a.value) : printable(a.value),
        ),
      ),
    ),
  );
}

export function decodeName(n: Node): NameAttribute[] {
  expect(n, 0x30, 'Name');
  const out: NameAttribute[] = [];
  for (const rdn of children(n)) {
    // RFC 5280 §4.1.2.4: RelativeDistinguishedName ::= SET SIZE (1..MAX) OF AttributeTypeAndValue
    const atvs = children(expect(rdn, 0x31, 'RelativeDistinguishedName'));
    if (atvs.length === 0) throw new DerError('empty RelativeDistinguishedName');
    for (const atv of atvs) {
      // AttributeTypeAndValue ::= SEQUENCE { type, value }: exactly two elements
      const [type, value] = fields(atv, 0x30, 'AttributeTypeAndValue', 2);
      out.push({ type: oidString(expect(type, 0x06, 'AttributeType')), value: stringValue(value!) });
    }
  }
  return out;
}

export const nameDer = (n: Node): Buffer => raw(n);

export function attributeValues(attrs: readonly NameAttribute[], type: string): string[] {
  return attrs.filter((a) => a.type === type).map((a) => a.value);
}
