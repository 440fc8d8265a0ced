// Composition root of `edgeseal agent run`: reads the state directory, builds every part
// and wires them. One process per device; one JSON log line per event on stdout.
//
//   identity ── renewal (EST simplereenroll) ──► new certificate ──► HTTPS + MQTT reconnect
//   attester (challenge → evidence → result) ──► status, key release, telemetry, subscriptions,
//                                                and the model (contraindicated: session released)
//   model: latest release ─► manifest verified ─► package downloaded, checked ─► key released
//          ─► decrypted in memory ─► onnxruntime session ─► inference on the sensor
//   telemetry: inference summaries ─► JWE ─► durable outbox ─► MQTT (QoS 1, deleted on PUBACK)
//   MQTT link ◄── cmd {"type":"attest"} re-attests, {"type":"update"} and ota notices check the release
import { Attester, type Standing } from './attest/attester.ts';
import { agentCodeDigest, sha256File } from './attest/measure.ts';
import { otaNoticeFields, parseCommand } from './commands.ts';
import { makeSensor } from './inference/file-sensor.ts';
import { DEFAULT_WINDOW_INTERVAL_MS } from './inference/inference-loop.ts';
import type { SensorSpec } from './inference/sensor.ts';
import { parseDeviceFile } from './device.ts';
import { fail, failureFields, isRefusal } from './errors.ts';
import { EstClient } from './identity/est-client.ts';
import { CurrentIdentity, loadIdentity } from './identity/identity.ts';
import { Renewer, renewalDue } from './identity/renewal.ts';
import { type ContentKeys, ContentKeyStore } from './keys/content-keys.ts';
import { KeyReleaser } from './keys/key-release.ts';
import { newWrappingKey } from './keys/wrapping-key.ts';
import { type AgentLog, agentLog } from './log.ts';
import { ControlPlane } from './net/control-plane.ts';
import { HttpsClient } from './net/https.ts';
import { readInstalled } from './model/installed.ts';
import { ModelRuntime } from './model/model-runtime.ts';
import { MqttLink } from './net/mqtt-link.ts';
import { checkUrl } from './provision.ts';
import { Job } from './schedule.ts';
import {
  ensureDir,
  exists,
  FILE_MODE,
  keyExposure,
  readStateFile,
  statePaths,
  writeAtomic,
} from './state.ts';
import { type DeviceState, deviceTopics, statusPayload } from './status.ts';
import { DEFAULT_OUTBOX_MAX_BYTES } from './telemetry/outbox.ts';
import { TelemetryRuntime } from './telemetry/telemetry-runtime.ts';

export const DEFAULT_TELEMETRY_INTERVAL_MS = 60_000;
export const DEFAULT_SENSOR: SensorSpec = { kind: 'generator', state: 'normal', drift: false };

export interface RunOptions {
  readonly stateDir: string;
  readonly controlPlaneUrl?: string;
  readonly gatewayUrl?: string;
  /** the key to ask for when affirming; default device.json's key_id */
  readonly keyId?: string;
  readonly telemetryIntervalMs?: number;
  /** one sensor window per this many ms (default 1000) */
  readonly windowIntervalMs?: number;
  /** default: the simulated accelerometer of a normal machine */
  readonly sensor?: SensorSpec;
  /** bound on unacknowledged telemetry on disk (default 16 MiB) */
  readonly outboxMaxBytes?: number;
  readonly log?: AgentLog;
  readonly now?: () => Date;
}

export interface RunningAgent {
  readonly deviceId: string;
  /** released content keys, in memory (the model loader takes its key from here) */
  readonly contentKeys: ContentKeys;
  stop(reason?: string): Promise<void>;
}

/** EST lives on the control plane: when --control-plane moves it, an EST URL of the same origin moves along. */
export function estUrlFor(estUrl: string, provisionedCp: string, cp: string): string {
  const e = new URL(estUrl);
  return e.origin === new URL(provisionedCp).origin ? `${cp}${e.pathname}`.replace(/\/+$/, '') : estUrl;
}

export async function startAgent(o: RunOptions): Promise<RunningAgent> {
  const now = o.now ?? (() => new Date());
  const paths = statePaths(o.stateDir);
  if (!(await exists(paths.device))) {
    fail(
      'ERR_NOT_PROVISIONED',
      `${paths.dir} is not provisioned (no device.json); run \`edgeseal agent provision\` first`,
    );
  }
  const device = parseDeviceFile(await readStateFile(paths.device, 'device file'), paths.device);
  const cpUrl = checkUrl(o.controlPlaneUrl ?? device.control_plane_url, '--control-plane', ['https:']).origin;
  const gwUrl = checkUrl(o.gatewayUrl ?? device.gateway_url, '--gateway', ['mqtts:']).href.replace(/\/$/, '');
  const identity = new CurrentIdentity(await loadIdentity(paths, device.device_id));
  const log = o.log ?? agentLog({ device_id: device.device_id });
  const keyId = o.keyId ?? device.key_id;
  const topics = deviceTopics(device.device_id);

  const wrapping = await newWrappingKey();
  const agentSha256 = await agentCodeDigest();
  const http = new HttpsClient({ secureContext: identity.get().secureContext });
  const cp = new ControlPlane(cpUrl, http);
  const est = new EstClient(estUrlFor(device.est_url, device.control_plane_url, cpUrl), http);
  const keys = new ContentKeyStore();
  let state: DeviceState = 'online';
  await ensureDir(paths.packages);
  const sensor = makeSensor(o.sensor ?? DEFAULT_SENSOR, log);
  const outboxMaxBytes = o.outboxMaxBytes ?? DEFAULT_OUTBOX_MAX_BYTES;
  // the link is made below; telemetry only uses it once running
  const telemetry = await TelemetryRuntime.open({
    cp,
    link: {
      get connected() {
        return link.connected;
      },
      publish: (topic, payload) => link.publish(topic, payload),
    },
    topic: topics.telemetry,
    outboxDir: paths.outbox,
    outboxMaxBytes,
    deviceId: device.device_id,
    intervalMs: o.telemetryIntervalMs ?? DEFAULT_TELEMETRY_INTERVAL_MS,
    standing: () => attester.standing(),
    loaded: () => model.state.loaded,
    log,
    now,
  });
  const model: ModelRuntime = new ModelRuntime({
    cp,
    keys,
    installed: await readInstalled(paths.model),
    paths,
    hardwareModel: device.hardware_model,
    sensor,
    windowIntervalMs: o.windowIntervalMs ?? DEFAULT_WINDOW_INTERVAL_MS,
    sink: telemetry.reporter,
    standing: () => attester.standing(),
    wantKey: () => keyJob.trigger(),
    log,
    now,
  });
  keys.onReleased(() => model.keyReleased());

  const attester: Attester = new Attester(
    {
      cp,
      measureFirmware: () => sha256File(device.firmware_path),
      identity,
      wrapping,
      device,
      agentSha256,
      log,
      now,
      onChange: (standing) => onStanding(standing),
    },
    await sha256File(device.firmware_path),
  );

  const status = () =>
    statusPayload({
      state,
      attestationStatus: attester.standing(),
      ...(attester.state ? { attestationExpiresAt: attester.state.expiresAt } : {}),
      certSerial: identity.get().cert.serial,
      firmwareSha256: attester.firmwareSha256,
      now: now(),
    });

  const publishStatus = async (): Promise<void> => {
    const out = await link.publish(topics.status, status());
    if (out.ok) log.info('status_sent', { state, attestation_status: attester.standing() });
    else if (out.reasonCode !== undefined)
      log.warn('status_refused', { reason_code: out.reasonCode, detail: out.error });
  };

  /** Filters the gateway refused (a quarantined device gets ota only): asked again once affirming. */
  const refusedFilters = new Set<string>();
  const subscribe = async (filter: string): Promise<void> => {
    try {
      const code = await link.subscribe(filter);
      if (code >= 0x80) {
        refusedFilters.add(filter);
        log.warn('subscribe_refused', { topic: filter, reason_code: code });
      } else {
        refusedFilters.delete(filter);
        log.info('subscribed', { topic: filter, qos: code });
      }
    } catch (e) {
      refusedFilters.add(filter);
      log.warn('subscribe_failed', { topic: filter, ...failureFields(e) });
    }
  };

  // Refused filters are asked again after an affirming result. The gateway may learn of the
  // result a moment after the device does (through its attestation feed), so one still
  // refused is retried with backoff for as long as the device stays affirming; every
  // refusal is already logged by subscribe().
  const resubscribeJob = new Job(
    async () => {
      if (!refusedFilters.size || !link.connected || attester.standing() !== 'affirming') return 'idle';
      for (const f of [...refusedFilters]) await subscribe(f);
      if (refusedFilters.size) throw new Error('subscriptions still refused');
      return 'idle';
    },
    { onError: () => {} },
  );

  const link: MqttLink = new MqttLink({
    url: gwUrl,
    identity,
    log,
    will: { topic: topics.status, payload: statusPayload({ state: 'offline', now: now() }) },
    onConnected: () => {
      void (async () => {
        for (const f of [topics.ota, topics.cmd]) await subscribe(f);
        await publishStatus();
        telemetry.connected();
        resubscribeJob.trigger();
      })();
    },
    onMessage: (topic, payload) => {
      if (topic === topics.cmd) {
        const cmd = parseCommand(payload);
        log.info('cmd_received', {
          type: cmd.type === 'unknown' ? cmd.name : cmd.type,
          handled: cmd.type !== 'unknown',
        });
        if (cmd.type === 'attest') {
          attester.force();
          attestJob.trigger();
        } else if (cmd.type === 'update') {
          model.check('update');
        }
      } else if (topic === topics.ota) {
        // Part 6 signs these notices; until then a notice only makes the agent check
        log.info('ota_notice', otaNoticeFields(payload));
        model.check('ota');
      }
    },
  });

  const failed = (event: string) => (e: unknown, retryInMs: number, attempt: number) =>
    log.warn(isRefusal(e) ? `${event}_refused` : `${event}_failed`, {
      ...failureFields(e),
      attempt,
      retry_in_ms: retryInMs,
    });

  const renewJob = new Job(
    new Renewer({
      identity,
      reenroll: (csr) => est.simpleReenroll(csr),
      store: (pem) => writeAtomic(paths.cert, pem, FILE_MODE),
      hardwareModel: device.hardware_model,
      log,
      now,
    }).run,
    { onError: failed('renewal') },
  );
  const attestJob = new Job(attester.run, { onError: failed('attestation') });
  // the configured key (Part 4's) and the content key of a model waiting to load
  const keyJob: Job = new Job(
    new KeyReleaser({
      cp,
      wrapping,
      keys,
      wanted: () => [...(keyId ? [keyId] : []), ...model.wantedKeys()],
      log,
      current: () => ({ standing: attester.standing(), result: attester.state?.result }),
    }).run,
    { onError: failed('key_release') },
  );

  function onStanding(standing: Standing): void {
    if (link.connected) void publishStatus();
    if (standing === 'affirming') {
      keyJob.trigger();
      telemetry.affirming();
      resubscribeJob.trigger();
    } else {
      const dropped = keys.clear();
      if (dropped.length) log.warn('key_dropped', { key_ids: dropped, attestation_status: standing });
    }
    void model.standingChanged(standing);
  }

  identity.onChange((id, previous) => {
    http.use({ secureContext: id.secureContext });
    log.info('identity_switched', { previous_serial: previous.cert.serial, cert_serial: id.cert.serial });
    void link.reconnect();
  });

  const exposure = await keyExposure(paths);
  if (exposure) log.warn('key_file_exposed', { path: paths.key, mode: `0${(0o600 | exposure).toString(8)}` });
  const cert = identity.get().cert;
  log.info('started', {
    cert_serial: cert.serial,
    not_after: cert.notAfter.toISOString(),
    renew_at: renewalDue(cert).toISOString(),
    hardware_model: device.hardware_model,
    control_plane: cpUrl,
    gateway: gwUrl,
    firmware_sha256: attester.firmwareSha256,
    agent_sha256: agentSha256,
    wrapping_kid: wrapping.kid,
    ...(keyId ? { key_id: keyId } : {}),
    installed_release_id: model.state.installed?.release_id ?? null,
    sensor: sensor.name,
    outbox_max_bytes: outboxMaxBytes,
  });
  if (now() >= cert.notAfter) {
    // simplereenroll is authenticated by this certificate: nothing renews an expired one
    log.error('certificate_expired', { cert_serial: cert.serial, not_after: cert.notAfter.toISOString() });
  }
  renewJob.start();
  link.start();
  attestJob.start();
  model.start();

  let stopping: Promise<void> | undefined;
  return {
    deviceId: device.device_id,
    contentKeys: keys,
    stop(reason = 'stop') {
      stopping ??= (async () => {
        log.info('stopping', { reason });
        state = 'stopping';
        const done = [renewJob, attestJob, keyJob, resubscribeJob].map((j) => j.stop());
        done.push(model.stop(), telemetry.stop());
        http.close(); // in-flight requests end now instead of at their timeout
        await Promise.all(done);
        attester.stop();
        if (link.connected) await publishStatus();
        await link.stop();
        keys.clear();
        log.info('stopped', {});
      })();
      return stopping;
    },
  };
}
