// PEM (RFC 7468) and base64 bodies. Strict: a bad alphabet or label is an error, not a guess.

import { EdgesealError } from './errors.ts';

export class EncodingError extends EdgesealError {
  constructor(message: string) {
    super('ERR_BAD_ENCODING', message);
    this.name = 'EncodingError';
  }
}

export function toPem(label: string, der: Uint8Array): string {
  const b64 = Buffer.from(der).toString('base64');
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/** Decodes base64 with optional whitespace/line breaks (RFC 7030 bodies, RFC 8951). */
export function decodeBase64Strict(text: string, what = 'body'): Buffer {
  const compact = text.replace(/[\r\n\t ]+/g, '');
  if (compact.length === 0) throw new EncodingError(`${what} is empty`);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(compact) || compact.length % 4 === 1) {
    throw new EncodingError(`${what} is not valid base64`);
  }
  return Buffer.from(compact, 'base64');
}

const PEM_RE = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;

export function fromPemAll(text: string): { label: string; der: Buffer }[] {
  const out: { label: string; der: Buffer }[] = [];
  for (const m of text.matchAll(PEM_RE)) {
    out.push({ label: m[1]!, der: decodeBase64Strict(m[2]!, `PEM ${m[1]} block`) });
  }
  return out;
}

export function fromPem(text: string, label: string): Buffer {
  const blocks = fromPemAll(text).filter((b) => b.label === label);
  if (blocks.length !== 1) throw new EncodingError(`expected exactly one PEM "${label}" block`);
  return blocks[0]!.der;
}
