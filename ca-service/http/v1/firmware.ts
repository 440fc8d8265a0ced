// Reference values (security-admin writes, auditors read): firmware builds per hardware
// model, deny-listed digests, per-model minimum SVN and attestation requirement.
import { Hono } from 'hono';
import type { DeniedDigest, FirmwareRef, FirmwareService, ModelPolicy } from '../../core/firmware.ts';
import type { TokenService } from '../../core/tokens.ts';
import { requirePermission } from '../auth.ts';
import type { AppEnv } from '../env.ts';
import { jsonBody } from '../validate.ts';
import { FirmwareAddBody, FirmwareDenyBody, FirmwarePolicyBody } from './schemas.ts';

export const firmwareView = (r: FirmwareRef) => ({
  id: r.id,
  component: r.component,
  hardware_model: r.hardwareModel,
  version: r.version,
  svn: r.svn,
  sha256: r.sha256,
  status: r.retiredAt ? 'retired' : 'active',
  created_at: r.createdAt.toISOString(),
  created_by: r.createdBy,
  retired_at: r.retiredAt?.toISOString() ?? null,
});

const deniedView = (d: DeniedDigest) => ({
  sha256: d.sha256,
  reason: d.reason,
  denied_at: d.deniedAt.toISOString(),
  denied_by: d.deniedBy,
});

const policyView = (p: ModelPolicy) => ({
  hardware_model: p.hardwareModel,
  min_svn: p.minSvn,
  attestation: p.required,
  updated_at: p.updatedAt.toISOString(),
  updated_by: p.updatedBy,
});

export function firmwareRoutes(firmware: FirmwareService, tokens: TokenService): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.get('/', requirePermission(tokens, 'firmware.read'), async (c) => {
    const model = c.req.query('hardware_model');
    const r = await firmware.list(model);
    return c.json({
      items: r.refs.map(firmwareView),
      denied: r.denied.map(deniedView),
      policies: r.policies.map(policyView),
    });
  });
  app.post('/', requirePermission(tokens, 'firmware.manage'), async (c) => {
    const b = await jsonBody(c, FirmwareAddBody);
    const ref = await firmware.add(
      {
        hardwareModel: b.hardware_model,
        version: b.version,
        svn: b.svn,
        sha256: b.sha256,
        component: b.component,
      },
      c.get('principal').actor,
    );
    return c.json(firmwareView(ref), 201);
  });
  app.post('/deny', requirePermission(tokens, 'firmware.manage'), async (c) => {
    const b = await jsonBody(c, FirmwareDenyBody);
    const r = await firmware.deny(b.sha256, b.reason, c.get('principal').actor);
    return c.json({
      sha256: b.sha256.toLowerCase(),
      already_denied: r.alreadyDenied,
      devices_contraindicated: r.devices.map((d) => d.deviceId),
    });
  });
  app.put('/policies/:model', requirePermission(tokens, 'firmware.manage'), async (c) => {
    const b = await jsonBody(c, FirmwarePolicyBody);
    const r = await firmware.setPolicy(
      c.req.param('model'),
      {
        ...(b.min_svn !== undefined ? { minSvn: b.min_svn } : {}),
        ...(b.attestation !== undefined ? { required: b.attestation } : {}),
      },
      c.get('principal').actor,
    );
    return c.json({ ...policyView(r.policy), devices_contraindicated: r.devices.map((d) => d.deviceId) });
  });
  app.post('/:id/retire', requirePermission(tokens, 'firmware.manage'), async (c) =>
    c.json(firmwareView(await firmware.retire(c.req.param('id'), c.get('principal').actor))),
  );
  return app;
}
