// The control plane in the same process as the revocation source: the full list at start,
// then every revocation as the control plane learns of it (its own or, through Postgres
// NOTIFY, another instance's).
import { toPem } from '../../lib/pem.ts';
import type { LocalFleetLink } from '../../ca-service/main.ts';
import { reasonName, type RevokedEntry, revokedPages } from '../../ca-service/core/revocation.ts';
import type { ControlLink } from '../control-link.ts';
import type { RevocationView, RevokedSerial } from './revocation-view.ts';

const toView = (e: RevokedEntry): RevokedSerial => ({
  serial: e.serial,
  deviceId: e.deviceId,
  reason: reasonName(e.reason),
});

export function localControlLink(link: LocalFleetLink): ControlLink {
  return {
    describe: 'in-process control plane',
    trustPem: async () => link.chain.map((d) => toPem('CERTIFICATE', d)).join(''),
    serverIdentity: (hosts) => link.serverIdentity(hosts),
    lease: (req) => link.lease(req),
    releaseLease: (id) => link.releaseLease(id),
    async followRevocations(view: RevocationView) {
      let last = new Date(0);
      let loading: Promise<void> = Promise.resolve();
      const load = () => {
        loading = loading.then(async () => {
          for await (const page of revokedPages((t, after) => link.revokedSince(t, after), last)) {
            view.add(page.map(toView));
            last = page[page.length - 1]!.revokedAt;
          }
        });
        return loading;
      };
      // Listen first, then load: nothing revoked in between is missed.
      const off = link.onRevoked((entries) => {
        if (entries.length) view.add(entries.map(toView));
        else void load().catch(() => view.sourceDown('reload failed'));
      });
      await load();
      view.sourceUp();
      return off;
    },
  };
}
