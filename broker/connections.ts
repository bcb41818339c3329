/**
 * Logged-in connections by account and by credential, for the caps on each and for dropping every
 * client of a revoked credential. A login that takes over its own client id (a device reconnecting
 * before the broker noticed its old connection died, [MQTT-3.1.4-2]) replaces that connection, so it
 * does not count twice.
 */
import type { Client } from 'aedes';
import type { ClientIdentity } from './acl.js';
import type { MqttLimits } from './limits.js';
import type { RefusalReason } from './refusals.js';

export class Connections {
  private readonly byAccount = new Map<string, Set<Client>>();
  private readonly byCredential = new Map<string, Set<Client>>();

  /** Why this login may not connect now, or undefined. `replacing` is the connection its client id takes over. */
  check(identity: ClientIdentity, limits: MqttLimits, replacing: Client | undefined): RefusalReason | undefined {
    const count = (set: Set<Client> | undefined) => (set?.size ?? 0) - (replacing && set?.has(replacing) ? 1 : 0);
    if (count(this.byCredential.get(identity.credentialId)) >= limits.connectionsPerCredential) return 'connections_per_credential';
    if (count(this.byAccount.get(identity.userId)) >= limits.connectionsPerAccount) return 'connections_per_account';
    return undefined;
  }

  add(client: Client, identity: ClientIdentity): void {
    add(this.byAccount, identity.userId, client);
    add(this.byCredential, identity.credentialId, client);
  }

  remove(client: Client, identity: ClientIdentity): void {
    remove(this.byAccount, identity.userId, client);
    remove(this.byCredential, identity.credentialId, client);
  }

  /** The clients logged in with a credential now. */
  ofCredential(credentialId: string): Client[] {
    return [...(this.byCredential.get(credentialId) ?? [])];
  }
}

function add(map: Map<string, Set<Client>>, key: string, client: Client): void {
  const set = map.get(key);
  if (set) set.add(client);
  else map.set(key, new Set([client]));
}

function remove(map: Map<string, Set<Client>>, key: string, client: Client): void {
  const set = map.get(key);
  set?.delete(client);
  if (set?.size === 0) map.delete(key);
}
