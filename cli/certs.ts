// edgeseal certs [filters] [--csv|--json] · edgeseal findings
import { parseArgs } from 'node:util';
import type { ApiClient } from './client.ts';
import { print, table, UsageError } from './output.ts';

export async function certsCommand(argv: string[], client: () => ApiClient, json: boolean): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      serial: { type: 'string' },
      device: { type: 'string' },
      batch: { type: 'string' },
      model: { type: 'string' },
      status: { type: 'string' },
      'expiring-within': { type: 'string' },
      limit: { type: 'string' },
      csv: { type: 'boolean' },
    },
    strict: true,
  });
  if (values.status && !['valid', 'revoked', 'expired'].includes(values.status)) {
    throw new UsageError(`--status must be valid, revoked or expired, got "${values.status}"`);
  }
  for (const k of ['expiring-within', 'limit'] as const) {
    if (values[k] !== undefined && !/^\d+$/.test(values[k]!))
      throw new UsageError(`--${k} must be a number, got "${values[k]}"`);
  }
  const q = new URLSearchParams();
  const set = (k: string, v: string | undefined) => v !== undefined && q.set(k, v);
  set('serial', values.serial);
  set('device_id', values.device);
  set('batch_id', values.batch);
  set('hardware_model', values.model);
  set('status', values.status);
  set('expiring_within_days', values['expiring-within']);
  set('limit', values.limit);
  if (values.csv) {
    q.set('format', 'csv');
    process.stdout.write(await client().text(`/v1/certificates?${q}`));
    return;
  }
  const r = await client().call<{ items: Record<string, unknown>[]; next_cursor: number | null }>(
    'GET',
    `/v1/certificates?${q}`,
  );
  print(
    json,
    r,
    () =>
      table(r.items, ['serial', 'kind', 'device_id', 'hardware_model', 'status', 'not_after']) +
      (r.next_cursor !== null
        ? `\n(more: use the API with cursor=${r.next_cursor}, or --csv for everything)`
        : ''),
  );
}

export async function findingsCommand(client: () => ApiClient, json: boolean): Promise<void> {
  const r = await client().call<{
    findings: { type: string; severity: string; subject: string; detail: string }[];
  }>('GET', '/v1/findings');
  print(json, r, () =>
    r.findings.length ? table(r.findings, ['severity', 'type', 'subject', 'detail']) : 'no findings',
  );
}
