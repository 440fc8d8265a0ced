// Gateway refusals and policies, each as the client sees it (mosquitto clients' messages,
// exit codes) and as the operator sees it (metrics by reason).
import { execFile } from 'node:child_process';
import { createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deviceCertificate } from '../ca-service/core/profiles.ts';
import type { Gateway } from '../gateway/main.ts';
import { MqttClient } from '../lib/mqtt/client.ts';
import { encodeConnect } from '../lib/mqtt/codec.ts';
import { toPem } from '../lib/pem.ts';
import { randomSerial } from '../lib/x509/certificate.ts';
import {
  deviceIdentity,
  type Identity,
  jwe,
  metric,
  metricsText,
  mosquittoPub,
  mosquittoSub,
  rootOf,
  serviceIdentity,
  startTestGateway,
  untilSessions,
} from './helpers/mqtt.ts';
import { makeKey, openssl, tmp, writeTmp } from './helpers/openssl.ts';
import { enrollDevice, type EnrolledDevice, startStack, type TestStack } from './helpers/stack.ts';

let s: TestStack;
let gw: Gateway;
let root: string;
let dev: EnrolledDevice;
let backend: Identity;

beforeAll(async () => {
  s = await startStack();
  gw = await startTestGateway(s, {
    EDGESEAL_GATEWAY_RATE: '5',
    EDGESEAL_GATEWAY_BURST: '5',
    EDGESEAL_GATEWAY_MAX_PAYLOAD_BYTES: '2048',
  });
  root = rootOf(s);
  dev = await enrollDevice(s, 'cam-p1');
  backend = await serviceIdentity(s, 'ops');
}, 60_000);

afterAll(async () => {
  await gw?.close();
  await s?.stop();
});

/** A device certificate signed by our issuing CA with a chosen validity. */
function certWithValidity(id: string, notBefore: Date, notAfter: Date): Identity {
  const dir = tmp();
  const key = makeKey('ec-p256', dir);
  const spki = createPublicKey(readFileSync(key.keyPath)).export({ format: 'der', type: 'spki' });
  const der = deviceCertificate(s.cp.boot.hierarchy.issuing, {
    serial: randomSerial(),
    deviceId: id,
    hardwareModel: 'cam-v2',
    trustDomain: 'edgeseal.local',
    spki,
    validity: { notBefore, notAfter },
  });
  return { certPath: writeTmp(dir, `${id}.pem`, toPem('CERTIFICATE', der)), keyPath: key.keyPath };
}

const refusals = async (reason: string) =>
  metric(await metricsText(gw), `edgeseal_gateway_refusals_total{reason="${reason}"}`);
const denials = async (reason: string) =>
  metric(await metricsText(gw), `edgeseal_gateway_denials_total{reason="${reason}"}`);

describe('gateway: certificates that are not let in', () => {
  it('refuses a certificate from another CA, even with a well-formed device identity', async () => {
    const dir = tmp();
    const caKey = makeKey('ec-p256', dir);
    const caPem = `${dir}/ca.pem`;
    openssl([
      'req',
      '-x509',
      '-new',
      '-key',
      caKey.keyPath,
      '-subj',
      '/CN=Rogue CA',
      '-days',
      '2',
      '-out',
      caPem,
    ]);
    const key = makeKey('ec-p256', dir);
    const csr = `${dir}/d.csr`;
    openssl(['req', '-new', '-key', key.keyPath, '-subj', '/CN=cam-p1', '-out', csr]);
    const ext = writeTmp(
      dir,
      'ext.cnf',
      'subjectAltName=URI:spiffe://edgeseal.local/device/cam-p1\nextendedKeyUsage=clientAuth\n',
    );
    const cert = `${dir}/d.pem`;
    openssl([
      'x509',
      '-req',
      '-in',
      csr,
      '-CA',
      caPem,
      '-CAkey',
      caKey.keyPath,
      '-CAcreateserial',
      '-days',
      '1',
      '-extfile',
      ext,
      '-out',
      cert,
    ]);
    const before = await refusals('unknown_ca');
    const r = await mosquittoPub(gw, root, { certPath: cert, keyPath: key.keyPath }, 'cam-p1', [
      '-t',
      'devices/cam-p1/status',
      '-m',
      'x',
    ]);
    expect(r.status).not.toBe(0);
    expect(r.out).toMatch(/not authori[sz]ed/i);
    expect(await refusals('unknown_ca')).toBe(before + 1);
  });

  it('refuses an expired certificate and a not-yet-valid one, each under its own reason', async () => {
    const day = 86_400_000;
    const expired = certWithValidity('cam-old', new Date(Date.now() - 10 * day), new Date(Date.now() - day));
    const future = certWithValidity('cam-new', new Date(Date.now() + day), new Date(Date.now() + 10 * day));
    const r1 = await mosquittoPub(gw, root, expired, 'cam-old', ['-t', 'devices/cam-old/status', '-m', 'x']);
    const r2 = await mosquittoPub(gw, root, future, 'cam-new', ['-t', 'devices/cam-new/status', '-m', 'x']);
    expect(r1.out).toMatch(/not authori[sz]ed/i);
    expect(r2.out).toMatch(/not authori[sz]ed/i);
    expect(await refusals('cert_expired')).toBe(1);
    expect(await refusals('cert_not_yet_valid')).toBe(1);
  });

  it('ends a session when its certificate expires', async () => {
    const soon = certWithValidity('cam-short', new Date(Date.now() - 60_000), new Date(Date.now() + 2500));
    const sub = mosquittoSub(gw, root, soon, 'cam-short', ['-t', 'devices/cam-short/cmd']);
    await untilSessions(gw, 1);
    await untilSessions(gw, 0, 5000);
    await sub.stop();
    expect(metric(await metricsText(gw), 'edgeseal_gateway_disconnects_total{reason="cert_expired"}')).toBe(
      1,
    );
  });

  it('refuses a client without a certificate at the TLS handshake, before reading any MQTT byte', async () => {
    const before = await refusals('no_certificate');
    // a raw TLS client: the handshake completes, then the gateway closes without a byte of MQTT
    const seen = await new Promise<{ handshake: boolean; bytes: number; closedMs: number }>((resolve) => {
      let handshake = false;
      let bytes = 0;
      let t0 = 0;
      const sock = tlsConnect({ host: '127.0.0.1', port: gw.port, ca: readFileSync(root) }, () => {
        handshake = true;
        t0 = Date.now();
        const none = { will: undefined, username: undefined, password: undefined };
        sock.write(encodeConnect({ cleanSession: true, keepAlive: 60, clientId: 'cam-p1', ...none }));
      });
      sock.on('data', (d: Buffer) => {
        bytes += d.length;
      });
      sock.on('close', () => resolve({ handshake, bytes, closedMs: Date.now() - t0 }));
      sock.on('error', () => {});
    });
    expect(seen.bytes).toBe(0); // no CONNACK: the connection is refused, not answered
    expect(seen.closedMs).toBeLessThan(2000); // at once, not after the CONNECT timeout
    // mosquitto_pub without --cert/--key: the same
    const r = await new Promise<{ status: number; out: string }>((resolve) =>
      execFile(
        'mosquitto_pub',
        ['-h', '127.0.0.1', '-p', String(gw.port), '--cafile', root, '-i', 'cam-p1', '-t', 'x', '-m', 'x'],
        { encoding: 'utf8', timeout: 15_000 },
        (err, stdout, stderr) => resolve({ status: err ? 1 : 0, out: `${stdout}${stderr}` }),
      ),
    );
    expect(r.status).not.toBe(0);
    expect(r.out).not.toMatch(/not authori[sz]ed/i); // it never got as far as a CONNACK
    expect(await refusals('no_certificate')).toBe(before + 2);
  });

  it('answers an unknown protocol level with "unacceptable protocol version" and garbage with a closed connection', async () => {
    const tlsOpts = {
      host: '127.0.0.1',
      port: gw.port,
      ca: readFileSync(root),
      cert: readFileSync(dev.path),
      key: readFileSync(dev.keyPath),
    };
    // CONNECT "MQTT" level 6, clean session, keep alive 60, client id "cam-p1"
    const connect6 = Buffer.from([
      0x10,
      18,
      0,
      4,
      0x4d,
      0x51,
      0x54,
      0x54,
      6,
      2,
      0,
      60,
      0,
      6,
      ...Buffer.from('cam-p1'),
    ]);
    const answer = await new Promise<Buffer>((resolve) => {
      const sock = tlsConnect(tlsOpts, () => sock.write(connect6));
      let got = Buffer.alloc(0);
      sock.on('data', (d: Buffer) => {
        got = Buffer.concat([got, d]);
      });
      sock.on('close', () => resolve(got));
      sock.on('error', () => {});
    });
    expect([...answer]).toEqual([0x20, 2, 0, 1]);
    expect(await refusals('unsupported_protocol')).toBe(1);
    const closed = await new Promise<boolean>((resolve) => {
      const sock = tlsConnect(
        {
          host: '127.0.0.1',
          port: gw.port,
          ca: readFileSync(root),
          cert: readFileSync(dev.path),
          key: readFileSync(dev.keyPath),
        },
        () => sock.write(Buffer.from('GET / HTTP/1.1\r\n\r\n')),
      );
      sock.on('close', () => resolve(true));
      sock.on('error', () => {});
      setTimeout(() => resolve(false), 3000);
    });
    expect(closed).toBe(true);
    expect(await refusals('protocol_error')).toBe(1);
  });
});

describe('gateway: payload policy and rate limit', () => {
  it('closes a device that sends telemetry that is not a JWE, and routes nothing of it', async () => {
    const sink = mosquittoSub(gw, root, backend, 'svc:ops', ['-t', 'devices/+/telemetry', '-q', '1']);
    try {
      await untilSessions(gw, 1);
      await new Promise((r) => setTimeout(r, 200));
      const r = await mosquittoPub(gw, root, deviceIdentity(dev), 'cam-p1', [
        '-t',
        'devices/cam-p1/telemetry',
        '-q',
        '1',
        '-m',
        '{"temp":21}',
      ]);
      expect(r.status).not.toBe(0);
      expect(await denials('payload_not_jwe')).toBe(1);
      const big = jwe('x'.repeat(3000));
      const r2 = await mosquittoPub(gw, root, deviceIdentity(dev), 'cam-p1', [
        '-t',
        'devices/cam-p1/telemetry',
        '-q',
        '1',
        '-m',
        big,
      ]);
      expect(r2.status).not.toBe(0);
      expect(await denials('payload_too_large')).toBe(1);
      const good = jwe('{"temp":21}');
      const r3 = await mosquittoPub(gw, root, deviceIdentity(dev), 'cam-p1', [
        '-t',
        'devices/cam-p1/telemetry',
        '-q',
        '1',
        '-m',
        good,
      ]);
      expect(r3.status, r3.out).toBe(0);
      await sink.waitFor((l) => l === `devices/cam-p1/telemetry ${good}`);
      expect(sink.lines).toHaveLength(1);
    } finally {
      await sink.stop();
    }
  });

  it('disconnects a device over its rate (token bucket: 5/s, burst 5)', async () => {
    await new Promise((r) => setTimeout(r, 1100)); // a full bucket
    const r = await mosquittoPub(gw, root, deviceIdentity(dev), 'cam-p1', [
      '-t',
      'devices/cam-p1/status',
      '-q',
      '1',
      '-m',
      'ok',
      '--repeat',
      '20',
    ]);
    expect(r.status).not.toBe(0);
    expect(await denials('rate_limited')).toBe(1);
    await new Promise((r) => setTimeout(r, 1100));
    const ok = await mosquittoPub(gw, root, deviceIdentity(dev), 'cam-p1', [
      '-t',
      'devices/cam-p1/status',
      '-q',
      '1',
      '-m',
      'ok',
      '--repeat',
      '3',
    ]);
    expect(ok.status, ok.out).toBe(0);
  });
});

describe('gateway: sessions', () => {
  it('keeps a persistent session: QoS 1 commands sent while the device was away arrive when it returns', async () => {
    const args = ['-c', '-q', '1', '-t', 'devices/cam-p1/cmd'];
    const first = mosquittoSub(gw, root, deviceIdentity(dev), 'cam-p1', args);
    await untilSessions(gw, 1);
    await new Promise((r) => setTimeout(r, 200));
    await first.stop();
    await untilSessions(gw, 0);
    for (const m of ['one', 'two']) {
      const r = await mosquittoPub(gw, root, backend, 'svc:ops', [
        '-t',
        'devices/cam-p1/cmd',
        '-q',
        '1',
        '-m',
        m,
      ]);
      expect(r.status, r.out).toBe(0);
    }
    const back = mosquittoSub(gw, root, deviceIdentity(dev), 'cam-p1', args);
    try {
      await back.waitFor((l) => l === 'devices/cam-p1/cmd two');
      expect(back.lines).toEqual(['devices/cam-p1/cmd one', 'devices/cam-p1/cmd two']);
    } finally {
      await back.stop();
    }
  });

  it("publishes a device's will when its connection drops, and refuses a will on a foreign topic", async () => {
    const sink = mosquittoSub(gw, root, backend, 'svc:ops', ['-t', 'devices/+/status', '-q', '1']);
    try {
      await untilSessions(gw, 1);
      await new Promise((r) => setTimeout(r, 200));
      const c = await MqttClient.connect({
        url: `mqtts://127.0.0.1:${gw.port}`,
        clientId: 'cam-p1',
        will: { topic: 'devices/cam-p1/status', payload: Buffer.from('offline'), qos: 1, retain: false },
        tls: { ca: readFileSync(root), cert: readFileSync(dev.path), key: readFileSync(dev.keyPath) },
      });
      c.destroy();
      await sink.waitFor((l) => l === 'devices/cam-p1/status offline');
    } finally {
      await sink.stop();
    }
    const r = await mosquittoPub(gw, root, deviceIdentity(dev), 'cam-p1', [
      '--will-topic',
      'devices/other/status',
      '--will-payload',
      'x',
      '-t',
      'devices/cam-p1/status',
      '-m',
      'x',
    ]);
    expect(r.out).toMatch(/not authori[sz]ed/i);
    expect(await refusals('will_not_allowed')).toBe(1);
  });
});

describe('gateway: operability', () => {
  it('serves Prometheus metrics and a health document on its HTTP port', async () => {
    const text = await metricsText(gw);
    for (const name of [
      'edgeseal_gateway_connects_total',
      'edgeseal_gateway_connections',
      'edgeseal_gateway_messages_in_total',
      'edgeseal_gateway_messages_out_total',
      'edgeseal_gateway_revocation_disconnects_total',
      'edgeseal_gateway_revocation_feed_up',
    ]) {
      expect(text).toMatch(new RegExp(`^${name} \\d+`, 'm'));
    }
    expect(metric(text, 'edgeseal_gateway_messages_in_total')).toBeGreaterThan(0);
    const h = await fetch(`${gw.metricsUrl}/health`);
    expect(h.status).toBe(200);
    expect(await h.json()).toMatchObject({
      status: 'ok',
      revocation_feed: 'connected',
      routing: 'in-process',
    });
    const nf = await fetch(`${gw.metricsUrl}/nope`);
    expect(nf.status).toBe(404);
    expect(nf.headers.get('content-type')).toBe('application/problem+json');
  });
});
