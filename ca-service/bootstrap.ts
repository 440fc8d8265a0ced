// First start creates what is missing; every start loads it. Shared by `edgeseal init`
// and `edgeseal up`.
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { eq } from 'drizzle-orm';
import { toPem } from '../lib/pem.ts';
import { apiTokens } from '../migrations/schema/index.ts';
import type { CaConfig } from './config.ts';
import type { Clock } from './core/ports.ts';
import { TokenService } from './core/tokens.ts';
import {
  ensureHierarchy,
  ensureKeyServiceKey,
  ensureLogKey,
  ensureTelemetryKey,
  ensureVerifierKey,
  type Hierarchy,
  type LogKey,
  type SigningKey,
} from './keys/hierarchy.ts';
import { type Kek, loadKek } from './keys/kek-source.ts';
import { CaKeyStore } from './store/ca-key-store.ts';
import { type Database, openDatabase, pgliteDirOf } from './store/db.ts';
import { TokenStore } from './store/token-store.ts';

export interface Bootstrapped {
  readonly database: Database;
  readonly kek: Kek;
  readonly hierarchy: Hierarchy;
  readonly logKey: LogKey;
  /** signs attestation results (EAR JWTs) */
  readonly verifierKey: SigningKey;
  /** devices encrypt telemetry to it (ECDH-ES); only the control plane decrypts */
  readonly telemetryKey: SigningKey;
  /** content keys travel to the control plane wrapped to it (model packages) */
  readonly keyServiceKey: SigningKey;
  readonly paths: {
    readonly dataDir: string;
    readonly rootPem: string;
    readonly chainPem: string;
    readonly adminToken: string;
    readonly logKeyPem: string;
    readonly verifierKeyPem: string;
  };
  /** set when this start created the admin credential */
  readonly adminTokenCreated: boolean;
}

export const dataPaths = (dataDir: string) => ({
  dataDir,
  rootPem: join(dataDir, 'ca', 'root.pem'),
  chainPem: join(dataDir, 'ca', 'chain.pem'),
  adminToken: join(dataDir, 'admin.token'),
  /** public key that signs audit checkpoints and transparency tree heads; auditors pin it */
  logKeyPem: join(dataDir, 'ca', 'log-key.pem'),
  verifierKeyPem: join(dataDir, 'ca', 'verifier-key.pem'),
  endpoint: join(dataDir, 'control-plane.json'),
});

export async function bootstrap(config: CaConfig, clock: Clock, database?: Database): Promise<Bootstrapped> {
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  const paths = dataPaths(config.dataDir);
  const kek = loadKek({ envKek: config.kek, kekFile: config.kekFile, dataDir: config.dataDir });
  const db =
    database ??
    (await openDatabase({
      databaseUrl: config.databaseUrl,
      pgliteDir: config.databaseUrl ? undefined : pgliteDirOf(config.dataDir),
    }));
  try {
    const hierarchy = await ensureHierarchy(new CaKeyStore(db.db), kek, {
      algorithm: config.caKeyAlgorithm,
      trustDomain: config.trustDomain,
      publicHttpUrl: config.publicHttpUrl,
      rootValidityYears: 20,
      issuingValidityYears: 10,
      now: clock.now(),
    });
    const logKey = await ensureLogKey(new CaKeyStore(db.db), kek, clock.now());
    const verifierKey = await ensureVerifierKey(new CaKeyStore(db.db), kek, clock.now());
    const telemetryKey = await ensureTelemetryKey(new CaKeyStore(db.db), kek, clock.now());
    const keyServiceKey = await ensureKeyServiceKey(new CaKeyStore(db.db), kek, clock.now());
    mkdirSync(join(config.dataDir, 'ca'), { recursive: true });
    writeFileSync(paths.logKeyPem, toPem('PUBLIC KEY', logKey.publicKeyDer));
    writeFileSync(paths.verifierKeyPem, toPem('PUBLIC KEY', verifierKey.publicKeyDer));
    writeFileSync(paths.rootPem, toPem('CERTIFICATE', hierarchy.root.cert.der));
    writeFileSync(paths.chainPem, hierarchy.chain.map((d) => toPem('CERTIFICATE', d)).join(''));
    const adminTokenCreated = await ensureAdminToken(db, clock, paths.adminToken);
    return {
      database: db,
      kek,
      hierarchy,
      logKey,
      verifierKey,
      telemetryKey,
      keyServiceKey,
      paths,
      adminTokenCreated,
    };
  } catch (e) {
    if (!database) await db.close();
    throw e;
  }
}

/** The first admin credential, written 0600 into the data directory for the CLI to find. */
async function ensureAdminToken(db: Database, clock: Clock, path: string): Promise<boolean> {
  const [existing] = await db.db
    .select({ id: apiTokens.id })
    .from(apiTokens)
    .where(eq(apiTokens.role, 'admin'))
    .limit(1);
  // Already made: by an earlier start, or by another instance sharing this Postgres.
  if (existing) return false;
  const { token } = await new TokenService(new TokenStore(db.db), clock).create(
    'admin',
    'first-start',
    'system',
  );
  writeFileSync(path, `${token}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
  return true;
}
