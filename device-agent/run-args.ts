// The flags of `edgeseal agent run`, parsed into RunOptions in one place: the CLI
// (cli/agent.ts) and the standalone entry (run-main.ts) both use this. A bad value is an
// ERR_BAD_VALUE naming the flag (the CLI exits 2 on it).
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { fail } from './errors.ts';
import { isFaultClass, type SensorSpec } from './inference/sensor.ts';
import type { RunOptions } from './main.ts';
import { MIN_OUTBOX_MAX_BYTES } from './telemetry/outbox.ts';
import { CLASSES, type FaultClass } from '../ml/signal.ts';

export const RUN_FLAGS = {
  state: { type: 'string' },
  'control-plane': { type: 'string' },
  gateway: { type: 'string' },
  'key-id': { type: 'string' },
  'telemetry-interval': { type: 'string' },
  'window-interval': { type: 'string' },
  sensor: { type: 'string' },
  'sensor-drift': { type: 'boolean' },
  'sensor-file': { type: 'string' },
  'outbox-max-bytes': { type: 'string' },
} as const satisfies ParseArgsConfig['options'];

export const RUN_USAGE = `edgeseal agent run --state DIR [--control-plane URL] [--gateway mqtts://…] [--key-id K]
  [--telemetry-interval SECONDS] [--window-interval SECONDS]
  [--sensor ${CLASSES.join('|')}] [--sensor-drift] [--sensor-file FILE|-] [--outbox-max-bytes N]`;

function seconds(v: string | undefined, flag: string, minMs: number): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+(\.\d+)?$/.test(v)) fail('ERR_BAD_VALUE', `--${flag} "${v}" must be a number of seconds`);
  return Math.max(minMs, Math.round(Number(v) * 1000));
}

export function parseRunArgs(argv: readonly string[]): RunOptions {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({ args: [...argv], options: RUN_FLAGS, strict: true, allowPositionals: false }));
  } catch (e) {
    return fail('ERR_BAD_VALUE', (e as Error).message);
  }
  const v = values as Record<string, string | undefined> & { 'sensor-drift'?: boolean };
  const state = v.state;
  if (!state) fail('ERR_BAD_VALUE', 'agent run needs --state');
  const machine = v.sensor ?? 'normal';
  if (!isFaultClass(machine))
    fail('ERR_BAD_VALUE', `--sensor "${machine}" must be one of ${CLASSES.join(', ')}`);
  const file = v['sensor-file'];
  if (file !== undefined && (v.sensor !== undefined || v['sensor-drift']))
    fail(
      'ERR_BAD_VALUE',
      '--sensor-file reads samples; --sensor and --sensor-drift are for the simulated sensor',
    );
  const sensor: SensorSpec =
    file !== undefined
      ? { kind: 'file', path: file }
      : { kind: 'generator', state: machine as FaultClass, drift: v['sensor-drift'] === true };
  const max = v['outbox-max-bytes'];
  if (max !== undefined && (!/^\d+$/.test(max) || Number(max) < MIN_OUTBOX_MAX_BYTES))
    fail(
      'ERR_BAD_VALUE',
      `--outbox-max-bytes "${max}" must be a whole number of bytes, at least ${MIN_OUTBOX_MAX_BYTES}`,
    );
  const telemetryIntervalMs = seconds(v['telemetry-interval'], 'telemetry-interval', 1000);
  const windowIntervalMs = seconds(v['window-interval'], 'window-interval', 10);
  return {
    stateDir: state!,
    ...(v['control-plane'] ? { controlPlaneUrl: v['control-plane'] } : {}),
    ...(v.gateway ? { gatewayUrl: v.gateway } : {}),
    ...(v['key-id'] ? { keyId: v['key-id'] } : {}),
    ...(telemetryIntervalMs !== undefined ? { telemetryIntervalMs } : {}),
    ...(windowIntervalMs !== undefined ? { windowIntervalMs } : {}),
    sensor,
    ...(max !== undefined ? { outboxMaxBytes: Number(max) } : {}),
  };
}
