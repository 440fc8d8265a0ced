// edgeseal revoke --serial S | --device D | --batch B --reason R
import { parseArgs } from 'node:util';
import type { ApiClient } from './client.ts';
import { print, UsageError } from './output.ts';

export async function revokeCommand(argv: string[], client: () => ApiClient, json: boolean): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      serial: { type: 'string' },
      device: { type: 'string' },
      batch: { type: 'string' },
      reason: { type: 'string' },
    },
    strict: true,
  });
  const given = (['serial', 'device', 'batch'] as const).filter((k) => values[k] !== undefined);
  if (given.length !== 1)
    throw new UsageError('revoke needs exactly one of --serial S, --device D, --batch B');
  const r = await client().call<{
    revoked: number;
    already_revoked: number;
    reason: string;
    serials: string[];
  }>('POST', '/v1/revocations', {
    ...(values.serial ? { serial: values.serial } : {}),
    ...(values.device ? { device_id: values.device } : {}),
    ...(values.batch ? { batch_id: values.batch } : {}),
    ...(values.reason ? { reason: values.reason } : {}),
  });
  print(
    json,
    r,
    () => `revoked ${r.revoked} certificate(s) (${r.reason}); ${r.already_revoked} were already revoked`,
  );
}
