import { createPublicKey, randomBytes } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import { testPki, TRUST_DOMAIN } from '../../attestation/test-pki.ts';
import { deviceCertificate } from '../../ca-service/core/profiles.ts';
import { parseCsr } from '../../lib/x509/csr.ts';
import { attributeValues } from '../../lib/x509/name.ts';
import { OID } from '../../lib/x509/oids.ts';
import { RefusedError } from '../errors.ts';
import type { AgentLog } from '../log.ts';
import { cert } from './certs.ts';
import { CurrentIdentity, makeIdentity } from './identity.ts';
import { Renewer, renewalDue } from './renewal.ts';

describe('renewalDue: 2/3 of the certificate life', () => {
  it.each([
    ['2026-01-01T00:00:00Z', '2026-01-01T03:00:00Z', '2026-01-01T02:00:00Z'],
    ['2026-01-01T00:00:00Z', '2027-01-01T00:00:00Z', '2026-09-01T08:00:00Z'],
    ['2026-01-01T00:00:00Z', '2026-01-01T00:00:03Z', '2026-01-01T00:00:02Z'],
  ])('%s → %s is due at %s', (nb, na, due) => {
    expect(renewalDue({ notBefore: new Date(nb), notAfter: new Date(na) }).toISOString()).toBe(
      new Date(due).toISOString(),
    );
  });
});

describe('Renewer', () => {
  const pki = testPki();
  const dev = pki.device({ id: 'cam-0007', model: 'cam-v2' });
  const issuing = cert(Buffer.from(pki.issuingCa.raw));
  const first = cert(dev.certDer);
  const issue = (key = dev.key, from = new Date(), days = 30) =>
    cert(
      deviceCertificate(pki.issuing, {
        serial: randomBytes(16),
        deviceId: 'cam-0007',
        hardwareModel: 'cam-v2',
        trustDomain: TRUST_DOMAIN,
        spki: createPublicKey(key).export({ format: 'der', type: 'spki' }),
        validity: { notBefore: from, notAfter: new Date(from.getTime() + days * 86_400_000) },
      }),
    );
  const log = (): AgentLog & { events: string[] } => {
    const events: string[] = [];
    const l = {
      events,
      info: (e: string) => events.push(e),
      warn: (e: string) => events.push(e),
      error: () => {},
      child: () => l,
    };
    return l;
  };
  const setup = (now: Date, reenroll: (csr: Buffer) => Promise<ReturnType<typeof cert>>) => {
    const identity = new CurrentIdentity(makeIdentity('cam-0007', dev.key, first, issuing, issuing));
    const switched = vi.fn();
    identity.onChange(switched);
    const store = vi.fn(async () => {});
    const l = log();
    const renewer = new Renewer({
      identity,
      reenroll,
      store,
      hardwareModel: 'cam-v2',
      log: l,
      now: () => now,
    });
    return { identity, switched, store, l, renewer };
  };

  it('before it is due: says how long to wait and asks nothing', async () => {
    const due = renewalDue(first);
    const reenroll = vi.fn();
    const { renewer } = setup(new Date(due.getTime() - 5000), reenroll);
    expect(await renewer.run()).toBe(5000);
    expect(reenroll).not.toHaveBeenCalled();
  });

  it('when due: same key and subject, the new certificate stored, then the identity switched', async () => {
    const now = new Date(renewalDue(first).getTime() + 1);
    const next = issue(dev.key, now);
    let csr: Buffer | undefined;
    const { renewer, store, switched, identity, l } = setup(now, async (c) => {
      csr = c;
      return next;
    });
    const wait = await renewer.run();
    const parsed = parseCsr(csr!);
    expect(attributeValues(parsed.subject, OID.commonName)).toEqual(['cam-0007']);
    expect(attributeValues(parsed.subject, OID.organizationalUnitName)).toEqual(['cam-v2']);
    expect(parsed.spki.equals(createPublicKey(dev.key).export({ format: 'der', type: 'spki' }))).toBe(true);
    expect(store).toHaveBeenCalledWith(next.pem);
    expect(switched).toHaveBeenCalledTimes(1);
    expect(identity.get().cert.serial).toBe(next.serial);
    expect(l.events).toEqual(['renewed']);
    expect(wait).toBe(renewalDue(next).getTime() - now.getTime());
  });

  it('a certificate for another key is refused: nothing stored, identity unchanged', async () => {
    const other = pki.device({ id: 'cam-0007' });
    const { renewer, store, identity } = setup(new Date(renewalDue(first).getTime() + 1), async () =>
      issue(other.key),
    );
    await expect(renewer.run()).rejects.toMatchObject({ code: 'ERR_PROTOCOL' });
    expect(store).not.toHaveBeenCalled();
    expect(identity.get().cert.serial).toBe(first.serial);
  });

  it('a refusal reaches the Job (which logs and retries it) and changes nothing', async () => {
    const refused = new RefusedError(
      'EST re-enrollment',
      403,
      undefined,
      'the client certificate is revoked',
    );
    const { renewer, store } = setup(new Date(renewalDue(first).getTime() + 1), async () => {
      throw refused;
    });
    await expect(renewer.run()).rejects.toBe(refused);
    expect(store).not.toHaveBeenCalled();
  });
});
