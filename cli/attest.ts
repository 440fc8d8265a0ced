// edgeseal attest status [--device D] — the latest attestation result per device
import { parseArgs } from 'node:util';
import { EdgesealError } from '../lib/errors.ts';
import type { ApiClient } from './client.ts';
import { print, table, UsageError } from './output.ts';

interface Result {
  device_id: string;
  hardware_model: string;
  status: string;
  fresh: boolean;
  reasons: { code: string; detail: string }[];
  firmware: { sha256: string | null; version: string | null; svn: number | null };
  issued_at: string;
  expires_at: string;
}

export async function attestCommand(argv: string[], client: () => ApiClient, json: boolean): Promise<void> {
  const [verb, ...rest] = argv;
  if (verb !== 'status')
    throw new UsageError(`attest ${verb ?? ''}: use attest status [--device D]`.replace('  ', ' '));
  const { values } = parseArgs({ args: rest, options: { device: { type: 'string' } }, strict: true });
  const q = values.device ? `?device_id=${encodeURIComponent(values.device)}` : '';
  const r = await client().call<{ items: Result[] }>('GET', `/v1/attestation/results${q}`);
  if (values.device && !r.items.length) {
    throw new EdgesealError(
      'ERR_NOT_FOUND',
      `device "${values.device}" has no attestation result (has it attested?)`,
    );
  }
  print(json, values.device ? r.items[0] : r.items, () =>
    table(
      r.items.map((x) => ({
        device: x.device_id,
        model: x.hardware_model,
        status: x.fresh ? x.status : `${x.status} (expired)`,
        firmware: x.firmware.version ?? x.firmware.sha256?.slice(0, 16) ?? '-',
        reasons: x.reasons.map((y) => y.code).join(', ') || '-',
        expires: x.expires_at,
      })),
      ['device', 'model', 'status', 'firmware', 'reasons', 'expires'],
    ),
  );
}
