// The auditor dashboard at /ui: sign in with an API token, which starts a server-side session
// (ui/sessions.ts; the cookie holds only a random session id: __Host-, HttpOnly, Secure,
// SameSite=Strict), inventory with search and filters, certificate detail decoded, revocation
// state, hygiene findings, audit-chain status. Every page is authorized as `audit.read`, so
// auditors, security admins and admins can use it; nothing here changes state but the session.
// Every response carries the headers of ui/page-security.ts; every POST must be same-origin.
import { createPublicKey, verify, X509Certificate } from 'node:crypto';
import { Hono } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { EdgesealError } from '../../lib/errors.ts';
import { toPem } from '../../lib/pem.ts';
import { type ChainReader, ChainWatch } from '../audit/chain-watch.ts';
import type { Clock } from '../core/ports.ts';
import type { RefusalSink } from '../core/refusals.ts';
import { reasonName } from '../core/revocation.ts';
import type { TokenService } from '../core/tokens.ts';
import type { AppEnv } from '../http/env.ts';
import { peerAddress } from '../http/tls-peer.ts';
import type { LogKey } from '../keys/hierarchy.ts';
import type { AuditLogStore } from '../store/audit-log.ts';
import type { InventoryStore } from '../store/inventory-store.ts';
import { AuditPage } from './audit-page.tsx';
import { AttestationPage } from './attestation-page.tsx';
import { type DeviceFilters, DevicesPage } from './devices-page.tsx';
import { deviceView } from '../telemetry/device-view.ts';
import type { TelemetryStore } from '../store/telemetry-store.ts';
import { Page, STYLE_SOURCE, StatusCell } from './layout.tsx';
import type { StoredResult } from '../store/attestation-store.ts';
import type { FirmwareService } from '../core/firmware.ts';
import { sameOriginPosts, securityHeaders } from './page-security.ts';
import { SESSION_TTL_MS, type UiSessionPort, UiSessions } from './sessions.ts';

/** sent as `__Host-edgeseal_ui`: Path=/, Secure, no Domain, so no other origin can plant it */
const COOKIE = 'edgeseal_ui';
const COOKIE_OPTIONS = {
  prefix: 'host',
  httpOnly: true,
  secure: true,
  sameSite: 'Strict',
  path: '/',
} as const;
const EKU_NAMES: Record<string, string> = {
  '1.3.6.1.5.5.7.3.1': 'TLS server',
  '1.3.6.1.5.5.7.3.2': 'TLS client',
  '1.3.6.1.5.5.7.3.9': 'OCSP signing',
};

export interface UiDeps {
  readonly tokens: TokenService;
  readonly sessions: UiSessionPort;
  readonly refusals: RefusalSink;
  readonly inventory: InventoryStore;
  readonly auditLog: AuditLogStore & ChainReader;
  readonly logKey: LogKey;
  readonly clock: Clock;
  /** latest attestation results and reference values (issue 8) */
  readonly attestation: {
    results(limit: number): Promise<StoredResult[]>;
    references(): ReturnType<FirmwareService['list']>;
  };
  /** devices with their telemetry and drift verdict (issue 9) */
  readonly devices: Pick<TelemetryStore, 'list'>;
}

const status = (r: { revokedAt: Date | null; notAfter: Date }, now: Date) =>
  r.revokedAt ? 'revoked' : r.notAfter <= now ? 'expired' : 'valid';

/** The sign-in page; `error` is our own message, never text taken from the request. */
const LoginPage = (p: { error?: string | undefined; ended?: boolean }) => (
  <Page title="Sign in">
    {p.error ? <p class="bad">That token was not accepted: {p.error}</p> : null}
    {p.ended ? <p class="bad">Your session has ended (signed out, expired, or its token revoked).</p> : null}
    <form method="post" action="/ui/login">
      <label>
        API token (auditor, security-admin or admin){' '}
        <input type="password" name="token" autocomplete="off" required size={60} />
      </label>{' '}
      <button type="submit">Sign in</button>
    </form>
  </Page>
);

export function uiRoutes(d: UiDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const sessions = new UiSessions(d.sessions, d.tokens, d.clock);
  const logKey = createPublicKey({ key: d.logKey.publicKeyDer, format: 'der', type: 'spki' });
  const chain = new ChainWatch(d.auditLog, (m, s) => verify('sha256', m, logKey, Buffer.from(s, 'base64')));
  app.use('*', securityHeaders(STYLE_SOURCE));
  app.use('*', sameOriginPosts(d.refusals, d.clock));

  app.get('/login', (c) => c.html(<LoginPage ended={c.req.query('ended') !== undefined} />));

  app.post('/login', async (c) => {
    const form = await c.req.parseBody();
    const token = typeof form.token === 'string' ? form.token.trim() : '';
    let id: string;
    try {
      id = (await sessions.start(token, peerAddress(c))).id;
    } catch (e) {
      if (!(e instanceof EdgesealError)) throw e;
      return c.html(<LoginPage error={e.detail} />, e.code === 'ERR_FORBIDDEN' ? 403 : 401);
    }
    setCookie(c, COOKIE, id, { ...COOKIE_OPTIONS, maxAge: SESSION_TTL_MS / 1000 });
    return c.redirect('/ui', 303);
  });

  app.post('/logout', async (c) => {
    await sessions.end(getCookie(c, COOKIE, 'host'));
    deleteCookie(c, COOKIE, COOKIE_OPTIONS);
    return c.redirect('/ui/login', 303);
  });

  // everything below needs a live session
  app.use('*', async (c, next) => {
    const id = getCookie(c, COOKIE, 'host');
    try {
      c.set('principal', await sessions.resume(id));
    } catch (e) {
      if (!(e instanceof EdgesealError)) throw e;
      if (id !== undefined) deleteCookie(c, COOKIE, COOKIE_OPTIONS);
      return c.redirect(id === undefined ? '/ui/login' : '/ui/login?ended', 303);
    }
    c.get('logFields').actor = c.get('principal').actor;
    await next();
  });

  app.get('/', async (c) => {
    const q = c.req.query();
    const now = d.clock.now();
    const statusFilter = ['valid', 'revoked', 'expired'].includes(q.status ?? '')
      ? (q.status as 'valid')
      : undefined;
    const cursor = /^\d+$/.test(q.cursor ?? '') ? Number(q.cursor) : undefined;
    const rows = await d.inventory.search(
      {
        deviceId: q.device || undefined,
        serial: q.serial ? q.serial.toLowerCase().replace(/:/g, '') : undefined,
        batchId: q.batch || undefined,
        hardwareModel: q.model || undefined,
        status: statusFilter,
      },
      now,
      cursor,
      50,
    );
    const next =
      rows.length === 50 ? new URLSearchParams({ ...q, cursor: String(rows.at(-1)!.logIndex) }) : undefined;
    return c.html(
      <Page title="Certificates" signedIn>
        <form class="filters" method="get" action="/ui">
          <input name="device" placeholder="device id" value={q.device ?? ''} />
          <input name="serial" placeholder="serial" value={q.serial ?? ''} />
          <input name="batch" placeholder="batch" value={q.batch ?? ''} />
          <input name="model" placeholder="hardware model" value={q.model ?? ''} />
          <select name="status">
            {['', 'valid', 'revoked', 'expired'].map((s) => (
              <option value={s} selected={s === (q.status ?? '')}>
                {s || 'any status'}
              </option>
            ))}
          </select>
          <button type="submit">Search</button>
        </form>
        <table>
          <thead>
            <tr>
              <th>Serial</th>
              <th>Kind</th>
              <th>Device</th>
              <th>Model</th>
              <th>Batch</th>
              <th>Status</th>
              <th>Not after</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr>
                <td>
                  <a href={`/ui/certificates/${r.serial}`}>{r.serial}</a>
                </td>
                <td>{r.kind}</td>
                <td>{r.deviceId ?? '—'}</td>
                <td>{r.hardwareModel ?? '—'}</td>
                <td>{r.batchId ?? '—'}</td>
                <td>
                  <StatusCell status={status(r, now)} />
                </td>
                <td>{r.notAfter.toISOString()}</td>
              </tr>
            ))}
          </tbody>
        </table>
        {rows.length === 0 ? <p>No certificates match.</p> : null}
        {next ? <a href={`/ui?${next}`}>Next page →</a> : null}
      </Page>,
    );
  });

  app.get('/certificates/:serial', async (c) => {
    const serial = c.req.param('serial').toLowerCase();
    const [r] = /^[0-9a-f]{1,40}$/.test(serial)
      ? await d.inventory.search({ serial }, d.clock.now(), undefined, 1)
      : [];
    if (!r) {
      return c.html(
        <Page title="Not found" signedIn>
          <p>No certificate with serial {serial}.</p>
        </Page>,
        404,
      );
    }
    const x = new X509Certificate(r.der);
    const now = d.clock.now();
    return c.html(
      <Page title={`Certificate ${r.serial}`} signedIn>
        <dl>
          <dt>Status</dt>
          <dd>
            <StatusCell status={status(r, now)} />
            {r.revokedAt
              ? ` since ${r.revokedAt.toISOString()} (${reasonName(r.revocationReason ?? 0)})`
              : ''}
          </dd>
          <dt>Subject</dt>
          <dd>{x.subject.replace(/\n/g, ', ')}</dd>
          <dt>Subject alt. names</dt>
          <dd>{x.subjectAltName ?? '—'}</dd>
          <dt>Issuer</dt>
          <dd>{x.issuer.replace(/\n/g, ', ')}</dd>
          <dt>Validity</dt>
          <dd>
            {x.validFrom} → {x.validTo}
          </dd>
          <dt>Key</dt>
          <dd>
            {r.keyType} ({r.keyBits} bits), SPKI SHA-256 {r.spkiSha256}
          </dd>
          <dt>Extended key usage</dt>
          <dd>{(x.keyUsage ?? []).map((o) => EKU_NAMES[o] ?? o).join(', ') || '—'}</dd>
          <dt>Batch / model</dt>
          <dd>
            {r.batchId ?? '—'} / {r.hardwareModel ?? '—'}
          </dd>
          <dt>Transparency log</dt>
          <dd>leaf {r.logIndex}</dd>
          <dt>SHA-256 fingerprint</dt>
          <dd>{x.fingerprint256}</dd>
        </dl>
        <h2>PEM</h2>
        <pre>{toPem('CERTIFICATE', r.der)}</pre>
      </Page>,
    );
  });

  app.get('/findings', async (c) => {
    const [f, drifting] = await Promise.all([
      d.inventory.findings(d.clock.now()),
      d.devices.list({ drifting: true }, undefined, 1000),
    ]);
    const rows = [
      ...f.sharedKeys.map((k) => ({
        sev: 'high',
        type: 'shared key',
        subject: k.spki_sha256,
        detail: `devices ${String(k.devices)}`,
      })),
      ...f.ofRevokedBatches.map((r) => ({
        sev: 'high',
        type: 'valid cert of revoked batch',
        subject: r.serial,
        detail: `${r.deviceId} (batch ${r.batchId})`,
      })),
      ...f.weak.map((r) => ({
        sev: 'medium',
        type: 'weak key',
        subject: r.serial,
        detail: `${r.deviceId}: RSA-${r.keyBits}`,
      })),
      ...drifting.map((r) => {
        const v = deviceView(r, d.clock.now());
        return {
          sev: 'medium',
          type: 'drifting inputs',
          subject: r.id,
          detail: `PSI ${v.drift?.score?.toFixed(2)} on ${v.drift?.top_feature ?? '?'} (threshold ${v.drift?.threshold ?? '?'})`,
        };
      }),
      ...f.expiring.map((r) => ({
        sev: 'low',
        type: 'expiring soon',
        subject: r.serial,
        detail: `${r.deviceId}: ${r.notAfter.toISOString()}`,
      })),
    ];
    return c.html(
      <Page title="Hygiene findings" signedIn>
        {rows.length === 0 ? (
          <p class="ok">No findings.</p>
        ) : (
          <table>
            <thead>
              <tr>
                <th>Severity</th>
                <th>Finding</th>
                <th>Certificate / key</th>
                <th>Detail</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((r) => (
                <tr>
                  <td class={`sev-${r.sev}`}>{r.sev}</td>
                  <td>{r.type}</td>
                  <td>
                    {/^[0-9a-f]{32}$/.test(r.subject) ? (
                      <a href={`/ui/certificates/${r.subject}`}>{r.subject}</a>
                    ) : (
                      r.subject
                    )}
                  </td>
                  <td>{r.detail}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Page>,
    );
  });

  app.get('/attestation', async (c) => {
    const [results, refs] = await Promise.all([d.attestation.results(1000), d.attestation.references()]);
    return c.html(
      <AttestationPage
        results={results}
        refs={refs.refs}
        denied={refs.denied}
        policies={refs.policies}
        now={d.clock.now()}
      />,
    );
  });

  app.get('/devices', async (c) => {
    const q = c.req.query();
    const tri = (v: string | undefined) => (v === 'true' || v === 'false' ? v : '');
    const filters: DeviceFilters = {
      model: (q.model ?? '').slice(0, 64),
      anomalous: tri(q.anomalous),
      drifting: tri(q.drifting),
    };
    const bool = (v: '' | 'true' | 'false') => (v === '' ? undefined : v === 'true');
    const after = /^[A-Za-z0-9_-]{1,200}$/.test(q.cursor ?? '')
      ? Buffer.from(q.cursor!, 'base64url').toString('utf8')
      : undefined;
    const [rows, drifting] = await Promise.all([
      d.devices.list(
        {
          hardwareModel: filters.model || undefined,
          anomalous: bool(filters.anomalous),
          drifting: bool(filters.drifting),
        },
        after,
        50,
      ),
      d.devices.list({ drifting: true }, undefined, 100),
    ]);
    const now = d.clock.now();
    const next =
      rows.length === 50
        ? new URLSearchParams({ ...filters, cursor: Buffer.from(rows.at(-1)!.id).toString('base64url') })
        : undefined;
    return c.html(
      <DevicesPage
        items={rows.map((r) => deviceView(r, now))}
        drifting={drifting.map((r) => deviceView(r, now))}
        filters={filters}
        next={next?.toString()}
      />,
    );
  });

  app.get('/audit', async (c) => {
    const [status, recent] = await Promise.all([chain.check(), d.auditLog.latest(50)]);
    return c.html(<AuditPage status={status} recent={recent} />);
  });
  return app;
}
