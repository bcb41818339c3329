/**
 * Persistent sessions (clean: false), bounded. Aedes' in-memory persistence keeps a session's
 * subscriptions, its queue of QoS 1 messages (queued while the client is away, and in flight until
 * its PUBACK while it is connected) and its inbound QoS 2 state under the client id, with no cap and
 * no expiry: a session nobody collects grows forever, and so does the number of sessions. Here:
 * - a session stores only the subscriptions the broker granted (Aedes stores every filter of a
 *   SUBSCRIBE once one of them is granted, refused ones included, and would queue other tenants'
 *   messages for them);
 * - a session queues at most `queuedPerSession` messages and `queuedBytesPerSession` bytes: a message
 *   beyond is not queued for it (a connected client then fails to take it and is disconnected; the
 *   bridge sends unacknowledged payments again when the machine subscribes);
 * - an account keeps at most `sessionsPerAccount` sessions: a new one ends the account's least
 *   recently used session that is offline, or is refused when every one is connected.
 * Session ids are the broker's (namespaced by credential), so no session is ever another login's.
 */
import type { Readable } from 'node:stream';
import type { Client } from 'aedes';
import type { ClientIdentity } from './acl.js';
import type { MqttLimits } from './limits.js';
import type { Refusals } from './refusals.js';

/** A message as the persistence holds it (an aedes-packet). */
interface StoredPacket {
  topic: string;
  payload: Buffer | string;
  messageId?: number;
}

interface Subscription {
  topic: string;
}

/** The promise-style methods of Aedes' persistence (aedes-persistence 11) that are guarded or used here. */
interface Persistence {
  addSubscriptions(client: Client, subs: Subscription[]): Promise<void>;
  cleanSubscriptions(client: { id: string }): Promise<unknown>;
  cleanIncoming?(client: { id: string }): Promise<void>;
  outgoingEnqueue(sub: { clientId: string }, packet: StoredPacket): Promise<void>;
  outgoingEnqueueCombi(subs: { clientId: string }[], packet: StoredPacket): Promise<void>;
  outgoingClearMessageId(client: { id: string }, packet: StoredPacket): Promise<StoredPacket | undefined>;
  outgoingStream(client: { id: string }): Readable;
}

const GUARDED = ['addSubscriptions', 'cleanSubscriptions', 'outgoingEnqueue', 'outgoingEnqueueCombi', 'outgoingClearMessageId', 'outgoingStream'] as const;

interface Session {
  userId: string;
  credentialId: string;
  /** The connection holding the session now, if any. */
  client: Client | undefined;
}

interface Queue {
  count: number;
  bytes: number;
}

function size(packet: StoredPacket): number {
  return Buffer.byteLength(packet.topic) + (typeof packet.payload === 'string' ? Buffer.byteLength(packet.payload) : packet.payload.length);
}

export class Sessions {
  private readonly persistence: Persistence;
  private readonly limits: MqttLimits;
  private readonly refusals: Refusals;
  /** Per account, its sessions by id, least recently used first. */
  private readonly byAccount = new Map<string, Map<string, Session>>();
  private readonly queues = new Map<string, Queue>();

  /**
   * Guard `persistence` (Aedes' own, changed in place). `granted` says whether the broker granted a
   * client a filter. Throws when the persistence lacks a method it guards: better no broker than an
   * unbounded one.
   */
  constructor(persistence: unknown, limits: MqttLimits, refusals: Refusals, granted: (client: Client, filter: string) => boolean) {
    const p = persistence as Persistence;
    for (const name of GUARDED) {
      if (typeof p[name] !== 'function') throw new Error(`cannot bound MQTT sessions: the Aedes persistence has no ${name}()`);
    }
    this.persistence = p;
    this.limits = limits;
    this.refusals = refusals;

    const addSubscriptions = p.addSubscriptions.bind(p);
    p.addSubscriptions = (client, subs) =>
      addSubscriptions(
        client,
        subs.filter((s) => granted(client, s.topic)),
      );
    const enqueue = p.outgoingEnqueue.bind(p);
    p.outgoingEnqueue = async (sub, packet) => {
      if (this.admit(sub.clientId, packet)) await enqueue(sub, packet);
    };
    const enqueueCombi = p.outgoingEnqueueCombi.bind(p);
    p.outgoingEnqueueCombi = async (subs, packet) => {
      const admitted = subs.filter((sub) => this.admit(sub.clientId, packet));
      if (admitted.length > 0) await enqueueCombi(admitted, packet);
    };
    const clear = p.outgoingClearMessageId.bind(p);
    p.outgoingClearMessageId = async (client, packet) => {
      const cleared = await clear(client, packet);
      if (cleared) this.release(client.id, cleared);
      return cleared;
    };
  }

  /**
   * A login to a persistent session `id`. False when the account is at its cap and every session of
   * it is connected; otherwise true, after ending the least recently used offline one if need be.
   */
  open(id: string, client: Client, identity: ClientIdentity): boolean {
    let sessions = this.byAccount.get(identity.userId);
    if (!sessions) {
      sessions = new Map();
      this.byAccount.set(identity.userId, sessions);
    }
    const existing = sessions.get(id);
    if (existing) {
      // Most recently used now: to the end of the line.
      sessions.delete(id);
      sessions.set(id, { ...existing, client });
      return true;
    }
    if (sessions.size >= this.limits.sessionsPerAccount) {
      const oldest = [...sessions].find(([, s]) => s.client === undefined)?.[0];
      if (oldest === undefined) return false;
      this.refusals.refuse('session_evicted', { userId: identity.userId, session: oldest }, 'mqtt session ended to make room for a new one');
      sessions.delete(oldest);
      void this.wipe(oldest);
    }
    sessions.set(id, { userId: identity.userId, credentialId: identity.credentialId, client });
    return true;
  }

  /** A clean-session login with `id`: Aedes wipes whatever session the id had. */
  end(id: string, userId: string): void {
    const sessions = this.byAccount.get(userId);
    sessions?.delete(id);
    if (sessions?.size === 0) this.byAccount.delete(userId);
  }

  /** A connection went away; its session (if it still holds it) stays, offline. */
  closed(id: string, client: Client, userId: string): void {
    const sessions = this.byAccount.get(userId);
    const session = sessions?.get(id);
    if (!sessions || !session || session.client !== client) return;
    sessions.delete(id);
    sessions.set(id, { ...session, client: undefined });
  }

  /** End every session of a credential that no longer logs in (revoked, or its asset deleted). */
  async purge(credentialId: string): Promise<void> {
    const ended: Promise<void>[] = [];
    for (const [userId, sessions] of this.byAccount) {
      for (const [id, session] of sessions) {
        if (session.credentialId !== credentialId) continue;
        sessions.delete(id);
        ended.push(this.wipe(id));
      }
      if (sessions.size === 0) this.byAccount.delete(userId);
    }
    await Promise.all(ended);
  }

  /** Messages queued for a session now (tests and metrics). */
  queued(id: string): number {
    return this.queues.get(id)?.count ?? 0;
  }

  /** Count a message into a session's queue, or refuse it when the queue is full. */
  private admit(id: string, packet: StoredPacket): boolean {
    const queue = this.queues.get(id) ?? { count: 0, bytes: 0 };
    const bytes = size(packet);
    if (queue.count >= this.limits.queuedPerSession || queue.bytes + bytes > this.limits.queuedBytesPerSession) {
      this.refusals.refuse('queue_full', { session: id, topic: packet.topic, queued: queue.count, queuedBytes: queue.bytes });
      return false;
    }
    queue.count += 1;
    queue.bytes += bytes;
    this.queues.set(id, queue);
    return true;
  }

  private release(id: string, packet: StoredPacket): void {
    const queue = this.queues.get(id);
    if (!queue) return;
    queue.count -= 1;
    queue.bytes -= size(packet);
    if (queue.count <= 0) this.queues.delete(id);
  }

  /** Forget a session: its subscriptions, queued messages and inbound QoS 2 state. */
  private async wipe(id: string): Promise<void> {
    const client = { id };
    const p = this.persistence;
    await p.cleanSubscriptions(client);
    await p.cleanIncoming?.(client);
    // The memory persistence clears one queued message per call, matched by message id.
    for await (const packet of p.outgoingStream(client) as AsyncIterable<StoredPacket>) await p.outgoingClearMessageId(client, packet);
    this.queues.delete(id);
  }
}
