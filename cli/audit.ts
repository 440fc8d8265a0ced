// edgeseal audit verify: fetches the whole audit chain, its head and the signed checkpoints
// from the running control plane and verifies them here, with the log key pinned in the
// data directory (ca/log-key.pem) rather than the one the server offers.
import { createPublicKey, verify } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dataPaths } from '../ca-service/bootstrap.ts';
import { type ChainedEvent, type Checkpoint, verifyChain } from '../lib/audit-chain.ts';
import type { ApiClient } from './client.ts';
import { print, UsageError } from './output.ts';

export async function auditCommand(
  argv: string[],
  client: () => ApiClient,
  json: boolean,
  dataDir: string,
): Promise<void> {
  if (argv[0] !== 'verify') throw new UsageError(`unknown audit command "${argv[0] ?? ''}"; use verify`);
  const c = client();
  const events: ChainedEvent[] = [];
  for (let after = 0; ; ) {
    const page = await c.call<{ items: ChainedEvent[]; next_after: number | null }>(
      'GET',
      `/v1/audit/events?after=${after}&limit=5000`,
    );
    events.push(...page.items);
    if (page.next_after === null) break;
    after = page.next_after;
  }
  const { head } = await c.call<{ head: { seq: number; hash: string } | null }>('GET', '/v1/audit/head');
  const cps = await c.call<{ public_key: string; items: Checkpoint[] }>('GET', '/v1/audit/checkpoints');
  const pinned = dataPaths(dataDir).logKeyPem;
  const keyPem = existsSync(pinned) ? readFileSync(pinned, 'utf8') : cps.public_key;
  const keyWarning =
    existsSync(pinned) && keyPem.trim() !== cps.public_key.trim()
      ? 'the server offers a different log key than the pinned one'
      : undefined;
  const key = createPublicKey(keyPem);
  const report = verifyChain(events, head, cps.items, (m, s) =>
    verify('sha256', m, key, Buffer.from(s, 'base64')),
  );
  print(
    json,
    {
      ...report,
      key: existsSync(pinned) ? pinned : 'offered by the server (not pinned)',
      ...(keyWarning ? { warning: keyWarning } : {}),
    },
    () =>
      report.ok
        ? `audit chain OK: ${report.events} events, head ${report.head?.seq ?? 0}, ${report.checkpointsVerified} signed checkpoint(s) verified${keyWarning ? `\nwarning: ${keyWarning}` : ''}`
        : [
            `audit chain BROKEN: ${report.problems.length} problem(s) in ${report.events} events`,
            ...report.problems.map((p) => `  ${p.kind} at ${p.seq}: ${p.detail}`),
          ].join('\n'),
  );
  if (!report.ok) process.exitCode = 1;
}
