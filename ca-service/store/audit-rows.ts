import type { AuditEvent } from '../core/ports.ts';

export const auditRow = (e: AuditEvent) => ({
  at: e.at,
  actor: e.actor,
  action: e.action,
  outcome: e.outcome,
  subject: e.subject ?? null,
  reason: e.reason ?? null,
  details: e.details ? JSON.stringify(e.details) : null,
});
