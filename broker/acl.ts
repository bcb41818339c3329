/**
 * Who may publish and subscribe where. Everything is denied unless a rule allows it:
 * - a client touches only `paywire/{its account}/…`, and a device credential only its asset's
 *   `paywire/{account}/{asset}/…`; wildcards may appear only below that prefix, so they cannot widen it;
 * - clients publish only the topics machines send (`action`, `license/request`, `status`) and, with
 *   an account key, `trigger`: payments, commands and license answers come from the bridge alone;
 * - read-only keys subscribe but never publish; `$SYS` is never writable; anyone logged in may read
 *   `paywire/bridge/state`;
 * - a client leaves retained messages only where the contract retains what devices send (`status`);
 * - a message reaches a client only on a topic it could subscribe to, whatever Aedes has queued.
 */
import { BRIDGE_STATE_TOPIC, CLIENT_PUBLISHES, parseAssetTopic, TOPIC_ROOT, TOPIC_SPECS } from './topics.js';

/** `full` clients publish and subscribe; `read` clients only subscribe (a read-only API key's login). */
export type ClientScope = 'full' | 'read';

export interface ClientIdentity {
  userId: string;
  scope: ClientScope;
  /** Set for device credentials: the one asset the client speaks for. */
  assetId?: string | undefined;
  /** The API key or device credential the client logged in with. */
  credentialId: string;
}

function ownPrefix(identity: ClientIdentity): string {
  return identity.assetId === undefined ? `${TOPIC_ROOT}/${identity.userId}/` : `${TOPIC_ROOT}/${identity.userId}/${identity.assetId}/`;
}

/** [MQTT-4.7.1] wildcards are whole levels; publishers may not use them at all. */
export function mayPublish(identity: ClientIdentity | undefined, topic: string): boolean {
  if (!identity || identity.scope !== 'full') return false;
  if (topic.startsWith('$') || topic.includes('+') || topic.includes('#')) return false;
  const parsed = parseAssetTopic(topic);
  if (!parsed || parsed.userId !== identity.userId) return false;
  if (identity.assetId !== undefined) {
    // A machine reports; it does not ask for free vends (`trigger` is the owner's, e.g. Home Assistant's button).
    return parsed.assetId === identity.assetId && parsed.topic !== 'trigger' && CLIENT_PUBLISHES.includes(parsed.topic);
  }
  return CLIENT_PUBLISHES.includes(parsed.topic);
}

export function maySubscribe(identity: ClientIdentity | undefined, filter: string): boolean {
  if (!identity) return false;
  if (filter === BRIDGE_STATE_TOPIC) return true;
  if (filter.startsWith('$')) return false;
  const prefix = ownPrefix(identity);
  // The account (and asset) levels must be literal, and something must follow them.
  return filter.startsWith(prefix) && filter.length > prefix.length;
}

/**
 * Why a client's retained message may not be kept, or undefined. [MQTT-3.3.1-5] a retained message
 * is kept for every future subscriber: only on the topics the contract retains from devices, and small.
 */
export function retainRefusal(topic: string, bytes: number, maxBytes: number): 'retained_not_allowed' | 'retained_too_large' | undefined {
  const parsed = parseAssetTopic(topic);
  const spec = parsed ? TOPIC_SPECS[parsed.topic] : undefined;
  if (!spec || !spec.retain || spec.direction !== 'to-bridge') return 'retained_not_allowed';
  return bytes > maxBytes ? 'retained_too_large' : undefined;
}

/** Whether a message on a (concrete) topic may be delivered to the client: only where it may subscribe. */
export function mayReceive(identity: ClientIdentity | undefined, topic: string): boolean {
  return maySubscribe(identity, topic);
}
