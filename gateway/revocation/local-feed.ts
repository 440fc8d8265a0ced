// The control plane in the same process as the revocation source: the full list at start,
// then every revocation as the control plane learns of it (its own or, through Postgres
// NOTIFY, another instance's).
import { toPem } from '../../lib/pem.ts';
import type { LocalFleetLink } from '../../ca-service/main.ts';
import { reasonName, type RevokedEntry, revokedPages } from '../../ca-service/core/revocation.ts';
import type { ControlLink } from '../control-link.ts';
import type { AttestationView, DeviceState } from '../attestation/attestation-view.ts';
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
    async followAttestation(view: AttestationView) {
      const toState = (x: {
        deviceId: string;
        hardwareModel: string;
        status: DeviceState['status'];
        expiresAt: Date;
      }) => ({
        deviceId: x.deviceId,
        hardwareModel: x.hardwareModel,
        status: x.status,
        expiresAt: x.expiresAt.getTime(),
      });
      // Subscribe first, then take the picture: a change in between is applied twice, harmlessly.
      const pending: Parameters<Parameters<typeof link.attestation.subscribe>[0]>[0][] = [];
      let live = false;
      const apply = (c: (typeof pending)[number]) => {
        if (c === 'reload') {
          void link.attestation.snapshot().then((snap) => view.reset(snap.states.map(toState), snap.models));
        } else {
          view.apply(c.states.map(toState), c.models);
        }
      };
      const off = link.attestation.subscribe((c) => (live ? apply(c) : pending.push(c)));
      const snap = await link.attestation.snapshot();
      view.reset(snap.states.map(toState), snap.models);
      live = true;
      for (const c of pending) apply(c);
      view.sourceUp();
      return off;
    },
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
