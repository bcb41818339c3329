/**
 * Who may log in, decided at CONNECT once the login is known, each refusal with its CONNACK code
 * (MQTT 3.1.1 §3.2.2.3): a client id the spec lets a server refuse (2); a will the login could not
 * publish itself, or a retained will the broker would not keep (5); the connection caps of the
 * account and the credential, and the account's persistent sessions (3). An admitted client is
 * renamed into its credential's namespace, `<credential id>:<client id>`: Aedes keys connections,
 * persistent sessions and wills by that id, so a login can take over only its own ([MQTT-3.1.4-2]).
 */
import type { Client } from 'aedes';
import { mayPublish, retainRefusal, type ClientIdentity } from './acl.js';
import { Connections } from './connections.js';
import { MAX_CLIENT_ID_LENGTH, type MqttLimits } from './limits.js';
import type { RefusalReason } from './refusals.js';
import type { Sessions } from './sessions.js';

/** CONNACK return codes, MQTT 3.1.1 §3.2.2.3. */
const IDENTIFIER_REJECTED = 2;
const SERVER_UNAVAILABLE = 3;
const NOT_AUTHORIZED = 5;

/** A login refused at CONNECT: why, and the CONNACK code that says so. */
export interface ConnectRefusal {
  reason: RefusalReason;
  code: number;
  message: string;
}

/** The will of the CONNECT being handled, which Aedes keeps on the client and its types leave out. */
interface PendingWill {
  _will?: { topic: string; payload: Buffer | string; retain?: boolean } | null;
}

export function byteLength(payload: Buffer | string | undefined): number {
  if (payload === undefined) return 0;
  return typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
}

export class Admission {
  readonly connections = new Connections();
  private readonly limits: MqttLimits;
  private readonly sessions: Sessions;
  /** The connected clients by (namespaced) id, as Aedes keeps them. */
  private readonly connected: () => Record<string, Client | undefined>;
  /** The client id each connection asked for in its CONNECT (Aedes replaces an empty one). */
  private readonly requestedIds = new WeakMap<Client, string>();

  constructor(limits: MqttLimits, sessions: Sessions, connected: () => Record<string, Client | undefined>) {
    this.limits = limits;
    this.sessions = sessions;
    this.connected = connected;
  }

  /** The client id a CONNECT asked for, before Aedes replaces an empty one. */
  requested(client: Client, clientId: string): void {
    this.requestedIds.set(client, clientId);
  }

  requestedId(client: Client): string {
    return this.requestedIds.get(client) ?? client.id;
  }

  /** Admit a logged-in client (renamed, counted until its connection closes), or say why not. */
  admit(client: Client, identity: ClientIdentity): ConnectRefusal | undefined {
    const requested = this.requestedId(client);
    // [MQTT-3.1.3-8] a persistent session needs an id; [MQTT-3.1.3-5] a long id may be refused.
    if ((requested === '' && !client.clean) || requested.length > MAX_CLIENT_ID_LENGTH) {
      return { reason: 'client_id_invalid', code: IDENTIFIER_REJECTED, message: 'client id refused' };
    }
    const will = (client as unknown as PendingWill)._will;
    if (will) {
      // The will is published later as the client: only a message the client could send now.
      if (!mayPublish(identity, will.topic)) return { reason: 'will_not_allowed', code: NOT_AUTHORIZED, message: 'will topic not allowed' };
      const retained = will.retain ? retainRefusal(will.topic, byteLength(will.payload), this.limits.retainedMaxBytes) : undefined;
      if (retained) return { reason: retained, code: NOT_AUTHORIZED, message: 'retained will not allowed' };
    }
    const id = `${identity.credentialId}:${requested === '' ? client.id : requested}`;
    const capped = this.connections.check(identity, this.limits, this.connected()[id]);
    if (capped) return { reason: capped, code: SERVER_UNAVAILABLE, message: 'too many connections' };
    if (client.clean) this.sessions.end(id, identity.userId);
    else if (!this.sessions.open(id, client, identity)) return { reason: 'sessions_per_account', code: SERVER_UNAVAILABLE, message: 'too many sessions' };

    // Aedes keys the connection, its session and its will by this id from here on.
    (client as { id: string }).id = id;
    this.connections.add(client, identity);
    // Forgotten when the connection closes, whether or not Aedes got as far as registering it.
    client.conn.once('close', () => {
      this.connections.remove(client, identity);
      this.sessions.closed(id, client, identity.userId);
    });
    return undefined;
  }
}
