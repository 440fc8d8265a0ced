// edgeseal firmware add|deny|min-svn|policy|retire|list — reference values (security-admin)
import { parseArgs } from 'node:util';
import type { ApiClient } from './client.ts';
import { print, table, UsageError } from './output.ts';

interface Ref {
  id: string;
  component: string;
  hardware_model: string;
  version: string;
  svn: number;
  sha256: string;
  status: string;
}

const need = (v: string | undefined, flag: string, verb: string): string => {
  if (!v) throw new UsageError(`firmware ${verb} needs ${flag}`);
  return v;
};

function svnOf(text: string): number {
  if (!/^\d{1,10}$/.test(text) || Number(text) > 2_147_483_647) {
    throw new UsageError(`--svn must be an integer from 0 to 2147483647, got "${text}"`);
  }
  return Number(text);
}

function sha256Of(text: string): string {
  if (!/^[0-9a-fA-F]{64}$/.test(text)) {
    throw new UsageError(`--sha256 must be 64 hexadecimal characters, got "${text.slice(0, 80)}"`);
  }
  return text.toLowerCase();
}

const contraindicated = (ids: string[]) =>
  ids.length
    ? `\n${ids.length} device(s) now contraindicated: ${ids.slice(0, 20).join(', ')}${ids.length > 20 ? ' …' : ''}`
    : '';

export async function firmwareCommand(argv: string[], client: () => ApiClient, json: boolean): Promise<void> {
  const [verb, ...rest] = argv;
  switch (verb) {
    case 'add': {
      const { values } = parseArgs({
        args: rest,
        options: {
          'hardware-model': { type: 'string' },
          version: { type: 'string' },
          svn: { type: 'string' },
          sha256: { type: 'string' },
          component: { type: 'string' },
        },
        strict: true,
      });
      const component = values.component ?? 'firmware';
      if (component !== 'firmware' && component !== 'agent') {
        throw new UsageError(`--component must be firmware or agent, got "${component}"`);
      }
      const r = await client().call<Ref>('POST', '/v1/firmware', {
        hardware_model: need(values['hardware-model'], '--hardware-model M', 'add'),
        version: need(values.version, '--version V', 'add'),
        svn: svnOf(need(values.svn, '--svn N', 'add')),
        sha256: sha256Of(need(values.sha256, '--sha256 HEX', 'add')),
        component,
      });
      print(
        json,
        r,
        () =>
          `${r.id}: ${r.component} ${r.version} (svn ${r.svn}) for ${r.hardware_model}, sha256 ${r.sha256}`,
      );
      return;
    }
    case 'deny': {
      const { values } = parseArgs({
        args: rest,
        options: { sha256: { type: 'string' }, reason: { type: 'string' } },
        strict: true,
      });
      const r = await client().call<{
        sha256: string;
        already_denied: boolean;
        devices_contraindicated: string[];
      }>('POST', '/v1/firmware/deny', {
        sha256: sha256Of(need(values.sha256, '--sha256 HEX', 'deny')),
        ...(values.reason ? { reason: values.reason } : {}),
      });
      print(
        json,
        r,
        () =>
          `${r.sha256} ${r.already_denied ? 'was already deny-listed' : 'is deny-listed'}${contraindicated(r.devices_contraindicated)}`,
      );
      return;
    }
    case 'min-svn':
    case 'policy': {
      const { values } = parseArgs({
        args: rest,
        options: {
          'hardware-model': { type: 'string' },
          svn: { type: 'string' },
          attestation: { type: 'string' },
        },
        strict: true,
      });
      const model = need(values['hardware-model'], '--hardware-model M', verb);
      if (verb === 'min-svn' && values.svn === undefined)
        throw new UsageError('firmware min-svn needs --svn N');
      const attestation = values.attestation;
      if (attestation !== undefined && !['auto', 'required', 'off'].includes(attestation)) {
        throw new UsageError(`--attestation must be auto, required or off, got "${attestation}"`);
      }
      if (verb === 'policy' && values.svn === undefined && attestation === undefined) {
        throw new UsageError(
          'firmware policy needs --svn N (minimum) and/or --attestation auto|required|off',
        );
      }
      const r = await client().call<{
        hardware_model: string;
        min_svn: number | null;
        attestation: string;
        devices_contraindicated: string[];
      }>('PUT', `/v1/firmware/policies/${encodeURIComponent(model)}`, {
        ...(values.svn !== undefined ? { min_svn: svnOf(values.svn) } : {}),
        ...(attestation !== undefined ? { attestation } : {}),
      });
      print(
        json,
        r,
        () =>
          `${r.hardware_model}: minimum SVN ${r.min_svn ?? 'none'}, attestation ${r.attestation}${contraindicated(r.devices_contraindicated)}`,
      );
      return;
    }
    case 'retire': {
      const id = rest[0];
      if (!id || id.startsWith('--')) throw new UsageError('firmware retire needs an id (see firmware list)');
      const r = await client().call<Ref>('POST', `/v1/firmware/${encodeURIComponent(id)}/retire`);
      print(json, r, () => `${r.id} retired (${r.hardware_model} ${r.version})`);
      return;
    }
    case 'list': {
      const { values } = parseArgs({
        args: rest,
        options: { 'hardware-model': { type: 'string' } },
        strict: true,
      });
      const q = values['hardware-model']
        ? `?hardware_model=${encodeURIComponent(values['hardware-model'])}`
        : '';
      const r = await client().call<{
        items: Ref[];
        denied: { sha256: string; reason: string | null; denied_at: string }[];
        policies: { hardware_model: string; min_svn: number | null; attestation: string }[];
      }>('GET', `/v1/firmware${q}`);
      print(json, r, () =>
        [
          table(r.items as unknown as Record<string, unknown>[], [
            'id',
            'hardware_model',
            'component',
            'version',
            'svn',
            'status',
            'sha256',
          ]),
          '',
          `deny-listed: ${r.denied.length ? '' : '(none)'}`,
          ...r.denied.map((d) => `  ${d.sha256}  ${d.denied_at}${d.reason ? `  ${d.reason}` : ''}`),
          `policies: ${r.policies.length ? '' : '(none)'}`,
          ...r.policies.map(
            (p) => `  ${p.hardware_model}: minimum SVN ${p.min_svn ?? 'none'}, attestation ${p.attestation}`,
          ),
        ].join('\n'),
      );
      return;
    }
    default:
      throw new UsageError(
        `firmware ${verb ?? ''}: use add, deny, min-svn, policy, retire or list (see edgeseal --help)`.replace(
          '  ',
          ' ',
        ),
      );
  }
}
