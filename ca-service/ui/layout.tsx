// Shared page chrome for the auditor dashboard. Server-rendered; no client-side script, and
// the one stylesheet is inline and allowed by its hash in the Content-Security-Policy.
import { createHash } from 'node:crypto';
import type { Child } from 'hono/jsx';

const CSS = `
body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
header{background:#1d2330;color:#fff;padding:10px 20px;display:flex;gap:20px;align-items:center}
header a{color:#cfd8ea;text-decoration:none}header strong{margin-right:20px}
main{padding:20px;max-width:1200px}table{border-collapse:collapse;width:100%;background:#fff}
th,td{border-bottom:1px solid #e3e6eb;padding:6px 8px;text-align:left;font-size:13px}th{background:#eef0f4}
.revoked{color:#b3261e;font-weight:600}.valid{color:#1b7f3b}.expired{color:#8a6d00}
.ok{color:#1b7f3b;font-weight:600}.bad{color:#b3261e;font-weight:600}
form.filters{display:flex;gap:8px;flex-wrap:wrap;margin-bottom:14px}input,select,button{padding:5px 8px}
pre{background:#fff;padding:10px;overflow:auto;font-size:12px}dl{display:grid;grid-template-columns:180px 1fr;gap:4px 12px}
dt{color:#5b6475}.sev-high{color:#b3261e}.sev-medium{color:#8a6d00}form.signout{margin-left:auto}`;

/** CSP source for the inline stylesheet (CSP3 hash-source) */
export const STYLE_SOURCE = `'sha256-${createHash('sha256').update(CSS).digest('base64')}'`;

export function Page(props: { title: string; signedIn?: boolean; children?: Child }) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <title>{`${props.title} · edgeseal`}</title>
        {/* raw, so the bytes are exactly those hashed in STYLE_SOURCE */}
        <style dangerouslySetInnerHTML={{ __html: CSS }} />
      </head>
      <body>
        <header>
          <strong>edgeseal</strong>
          {props.signedIn ? (
            <>
              <a href="/ui">Certificates</a>
              <a href="/ui/findings">Findings</a>
              <a href="/ui/attestation">Attestation</a>
              <a href="/ui/devices">Devices</a>
              <a href="/ui/audit">Audit chain</a>
              <form method="post" action="/ui/logout" class="signout">
                <button type="submit">Sign out</button>
              </form>
            </>
          ) : null}
        </header>
        <main>
          <h1>{props.title}</h1>
          {props.children}
        </main>
      </body>
    </html>
  );
}

export const StatusCell = (p: { status: string }) => <span class={p.status}>{p.status}</span>;
