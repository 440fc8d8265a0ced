// The topic ACL of PRODUCT.md, deny by default. A device publishes only to its own
// devices/{id}/telemetry and devices/{id}/status and receives only its own devices/{id}/ota
// and devices/{id}/cmd. A service identity (spiffe://…/service/<name>, a backend issued a
// certificate by the CA) reads every device's telemetry and status and writes ota and cmd.
// Subscriptions are checked when made (a filter reaching outside the subtree is refused)
// and every delivery is checked again, as Mosquitto does with its read ACL.
import { topicMatches } from '../../lib/mqtt/topic.ts';
import type { Principal } from './identity.ts';

const DEVICE_WRITE = new Set(['telemetry', 'status']);
const DEVICE_READ = new Set(['ota', 'cmd']);
// A quarantined device (issue 8: no fresh affirming attestation where its model requires
// one) may still say how it is and take updates: status out, ota in — nothing else.
const QUARANTINED_WRITE = new Set(['status']);
const QUARANTINED_READ = new Set(['ota']);

/** devices/{id}/{leaf} with literal levels, or undefined */
function deviceTopic(topic: string): { id: string; leaf: string } | undefined {
  if (!topic.startsWith('devices/')) return undefined;
  const slash = topic.indexOf('/', 8);
  if (slash <= 8 || slash === topic.length - 1 || topic.indexOf('/', slash + 1) >= 0) return undefined;
  return { id: topic.slice(8, slash), leaf: topic.slice(slash + 1) };
}

export function canPublish(p: Principal, topic: string, quarantined = false): boolean {
  const t = deviceTopic(topic);
  if (!t) return false;
  if (p.kind === 'device')
    return t.id === p.id && (quarantined ? QUARANTINED_WRITE : DEVICE_WRITE).has(t.leaf);
  return DEVICE_READ.has(t.leaf);
}

/** May this principal receive a message published on `topic`? */
export function canReceive(p: Principal, topic: string, quarantined = false): boolean {
  const t = deviceTopic(topic);
  if (!t) return false;
  if (p.kind === 'device') return t.id === p.id && (quarantined ? QUARANTINED_READ : DEVICE_READ).has(t.leaf);
  return DEVICE_WRITE.has(t.leaf);
}

/**
 * A subscription is granted when the filter stays inside what the principal may read:
 * for a device, its own subtree with literal `devices/{id}` levels, matching ota or cmd;
 * for a service, filters under `devices/` that can match telemetry or status.
 */
export function canSubscribe(p: Principal, filter: string, quarantined = false): boolean {
  const levels = filter.split('/');
  if (levels[0] !== 'devices') return false;
  if (p.kind === 'device') {
    if (levels[1] !== p.id) return false; // '+', '#' or another id: outside its subtree
    if (topicMatches(filter, `devices/${p.id}/ota`)) return true;
    // a filter that could only ever bring cmd is refused while quarantined
    return !quarantined && topicMatches(filter, `devices/${p.id}/cmd`);
  }
  if (levels.length === 2) return levels[1] === '#';
  const leaf = levels[2]!;
  return levels.length === 3 && (leaf === '#' || leaf === '+' || DEVICE_WRITE.has(leaf));
}
