/**
 * Who may publish and subscribe where. Everything is denied unless a rule allows it: a client may
 * touch only `paywire/{its account}/…`; wildcards may appear only below that prefix, so they cannot
 * widen it; `$SYS` is never writable; read-only keys subscribe but do not publish.
 */
import type { KeyScope } from '../bridge/machines/types.js';

export const TOPIC_ROOT = 'paywire';

export interface ClientIdentity {
  userId: string;
  scope: KeyScope;
}

function ownPrefix(identity: ClientIdentity): string {
  return `${TOPIC_ROOT}/${identity.userId}/`;
}

/** [MQTT-4.7.1] wildcards are whole levels; publishers may not use them at all. */
export function mayPublish(identity: ClientIdentity | undefined, topic: string): boolean {
  if (!identity || identity.scope !== 'full') return false;
  if (topic.startsWith('$') || topic.includes('+') || topic.includes('#')) return false;
  const prefix = ownPrefix(identity);
  return topic.startsWith(prefix) && topic.length > prefix.length;
}

export function maySubscribe(identity: ClientIdentity | undefined, filter: string): boolean {
  if (!identity) return false;
  if (filter.startsWith('$')) return false;
  const prefix = ownPrefix(identity);
  // The first two levels must be literal (no `+`/`#` there), and something must follow them.
  return filter.startsWith(prefix) && filter.length > prefix.length;
}
