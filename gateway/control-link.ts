// How a gateway reaches the control plane: its trust anchors, its own server certificate,
// and the revocation feed. In one process with the control plane (`edgeseal up`) it calls
// it directly; alone (`edgeseal up gateway`) it uses the HTTPS API with a gateway token.
import type { AttestationView } from './attestation/attestation-view.ts';
import type { RevocationView } from './revocation/revocation-view.ts';

export interface GatewayLeaseRequest {
  readonly id: string;
  readonly routing: 'local' | 'upstream';
  readonly upstream: string | null;
}

export interface ServerIdentity {
  readonly keyPem: string;
  /** leaf then issuing CA, PEM */
  readonly certChainPem: string;
  readonly serial: string;
  readonly notAfter: Date;
}

export interface ControlLink {
  /** where the link leads, for the log */
  readonly describe: string;
  /** issuing CA and root, PEM: what client certificates must chain to */
  trustPem(): Promise<string>;
  serverIdentity(hosts: { dns: readonly string[]; ips: readonly string[] }): Promise<ServerIdentity>;
  /**
   * take or renew this gateway's lease: how it routes, so that the control plane can refuse
   * a gateway that would split the fleet (ca-service/core/gateway-leases.ts); throws
   * ERR_GATEWAY_CONFLICT when refused
   */
  lease(req: GatewayLeaseRequest): Promise<void>;
  releaseLease(id: string): Promise<void>;
  /** keep `view` filled with the fleet's attestation standing; returns a stop function */
  followAttestation(view: AttestationView): Promise<() => void>;
  /** keep `view` filled with every revoked serial; returns a stop function */
  followRevocations(view: RevocationView): Promise<() => void>;
}
