import { describe, expect, it } from 'vitest';
import { AgentError, RefusedError } from '../errors.ts';
import type { HttpResponse } from './https.ts';
import { expectStatus, problemOf } from './problem.ts';

const res = (status: number, type: string, body: string): HttpResponse => ({
  status,
  headers: { 'content-type': type },
  body: Buffer.from(body),
});

describe('what a refusal says', () => {
  it('problem+json: its code and detail', () => {
    const r = res(
      403,
      'application/problem+json',
      JSON.stringify({ status: 403, code: 'NonceReplayed', detail: 'used' }),
    );
    expect(problemOf(r)).toEqual({ code: 'NonceReplayed', detail: 'used' });
    expect(() => expectStatus(r, 'attestation evidence', [200])).toThrow(RefusedError);
    try {
      expectStatus(r, 'attestation evidence', [200]);
    } catch (e) {
      expect(e).toMatchObject({ status: 403, problemCode: 'NonceReplayed', serverDetail: 'used' });
      expect((e as Error).message).toBe('attestation evidence refused (HTTP 403 NonceReplayed): used');
    }
  });

  it("EST's text body (RFC 7030 §4.2.3), whitespace folded", () => {
    const r = res(401, 'text/plain; charset=utf-8', 'unknown batch or wrong batch secret\n');
    expect(problemOf(r)).toEqual({ code: undefined, detail: 'unknown batch or wrong batch secret' });
  });

  it('a 5xx is a failure to retry, not a refusal; an expected status passes', () => {
    const r = res(503, 'text/plain', 'busy');
    let err: unknown;
    try {
      expectStatus(r, 'x', [200]);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(AgentError);
    expect(err).not.toBeInstanceOf(RefusedError);
    expect(expectStatus(res(201, 'application/json', '{}'), 'x', [200, 201]).status).toBe(201);
  });

  it('a long detail is cut', () => {
    expect(problemOf(res(400, 'text/plain', 'x'.repeat(5000))).detail.length).toBeLessThan(310);
  });
});
