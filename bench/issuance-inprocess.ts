// Issuance without HTTP: the authority and its store in one process, 32 concurrent
// enrollments. Isolates signing + storage from TLS/HTTP when profiling:
//   node --cpu-prof --import tsx bench/issuance-inprocess.ts   (PG=postgres://… for Postgres)
import { tmpdir } from 'node:os';
import { parseCaConfig } from '../ca-service/config.ts';
import { bootstrap } from '../ca-service/bootstrap.ts';
import { Authority } from '../ca-service/core/authority.ts';
import { BatchService } from '../ca-service/core/batches.ts';
import { BatchStore } from '../ca-service/store/batch-store.ts';
import { IssuanceStore } from '../ca-service/store/issuance-store.ts';
import { makeCsrs } from './lib/csrs.ts';
const dir = `${tmpdir()}/edgeseal-inprocess-${Date.now()}`;
const clock = { now: () => new Date() };
const config = parseCaConfig({ EDGESEAL_DATA_DIR: dir, DATABASE_URL: process.env.PG ?? '' });
const boot = await bootstrap(config, clock);
const store = new IssuanceStore(boot.database.db);
const a = new Authority(boot.hierarchy.issuing, boot.hierarchy.chain, store, clock, {
  trustDomain: 'x.local',
  deviceValidityDays: 365,
  backdateSeconds: 60,
});
const { batch, secret } = await new BatchService(new BatchStore(boot.database.db), clock).create(
  { hardwareModel: 'm', quota: 1e6, expiresInSeconds: 86400 },
  'x',
);
const N = 3000;
const csrs = makeCsrs(N);
let i = 0;
const t = performance.now();
await Promise.all(
  Array.from({ length: 32 }, async () => {
    while (i < N) {
      const c = csrs[i++]!;
      await a.enroll({ readCsr: async () => c, credential: { batchId: batch.id, secret } });
    }
  }),
);
console.log('enrollments/s', Math.round(N / ((performance.now() - t) / 1000)));
// pieces
let t2 = performance.now();
for (let k = 0; k < 1000; k++) await store.getBatch(batch.id);
console.log('getBatch/s', Math.round(1000 / ((performance.now() - t2) / 1000)));
t2 = performance.now();
for (let k = 0; k < 1000; k++) await store.lookupDeviceAndKey('bench-' + k, 'ab' + k);
console.log('lookup/s', Math.round(1000 / ((performance.now() - t2) / 1000)));
await boot.database.close();
