// Certificate renewal over EST simplereenroll (RFC 7030 §4.2.2): same key, same subject,
// authenticated by the current certificate over TLS. Due at 2/3 of the certificate's life
// (at once if that is past); the new certificate is written atomically, then the identity
// switches so HTTPS and MQTT reconnect with it.
import type { AgentLog } from '../log.ts';
import type { RunResult } from '../schedule.ts';
import { type Cert, checkDeviceCert } from './certs.ts';
import { deviceCsr } from './csr.ts';
import type { CurrentIdentity } from './identity.ts';

/** Never renew twice within this, even if the CA hands out a certificate that is due at once. */
const MIN_RENEWAL_INTERVAL_MS = 5_000;

/** When a certificate is due for renewal: 2/3 of the way from notBefore to notAfter. */
export function renewalDue(c: { readonly notBefore: Date; readonly notAfter: Date }): Date {
  const nb = c.notBefore.getTime();
  return new Date(nb + ((c.notAfter.getTime() - nb) * 2) / 3);
}

export interface RenewerDeps {
  readonly identity: CurrentIdentity;
  /** EST simplereenroll over mTLS with the current certificate (EstClient.simpleReenroll) */
  readonly reenroll: (csr: Buffer) => Promise<Cert>;
  /** writes the new certificate to the state directory, atomically */
  readonly store: (pem: string) => Promise<void>;
  readonly hardwareModel: string;
  readonly log: AgentLog;
  readonly now: () => Date;
}

export class Renewer {
  constructor(private readonly d: RenewerDeps) {}

  /** A Job run: renews if due, and says when to look again. */
  run = async (): Promise<RunResult> => {
    const current = this.d.identity.get();
    const now = this.d.now().getTime();
    const due = renewalDue(current.cert).getTime();
    if (now < due) return due - now;
    const csr = deviceCsr(current.key, current.deviceId, this.d.hardwareModel);
    const leaf = await this.d.reenroll(csr);
    checkDeviceCert(leaf, { key: current.key, deviceId: current.deviceId, issuingCa: current.issuingCa });
    // the file first: if we stop right after, the next start uses the new certificate
    await this.d.store(leaf.pem);
    this.d.identity.renewed(leaf);
    const next = renewalDue(leaf);
    this.d.log.info('renewed', {
      previous_serial: current.cert.serial,
      cert_serial: leaf.serial,
      not_after: leaf.notAfter.toISOString(),
      renew_at: next.toISOString(),
    });
    return Math.max(next.getTime() - this.d.now().getTime(), MIN_RENEWAL_INTERVAL_MS);
  };
}
