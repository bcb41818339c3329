/**
 * The caps a broker facing the internet holds every tenant to, so that no login can take memory,
 * connections or sessions without bound (settings `MQTT_MAX_*` and `MQTT_RETAINED_MAX_BYTES`, see
 * `bridge/config.ts`). Message rates are the dispatcher's (`RATE_LIMIT_PER_MINUTE` per login).
 */

export interface MqttLimits {
  /** Open MQTT connections (TCP and WebSocket), logged in or not yet. */
  connections: number;
  /**
   * Connections from one address that have not logged in yet (TCP and WebSocket). A login frees its
   * place; a connection that never sends CONNECT is closed after 10 s. Keeps one address from holding
   * every place of `connections` with sockets that never log in.
   */
  pendingPerAddress: number;
  /** Logged-in connections of one account, over all its keys and device credentials. */
  connectionsPerAccount: number;
  /** Logged-in connections of one API key or device credential. */
  connectionsPerCredential: number;
  /** Topic filters one client may hold. */
  subscriptionsPerClient: number;
  /** QoS 1 messages a persistent session holds (queued while offline, in flight until PUBACK). */
  queuedPerSession: number;
  /** Payload and topic bytes of those messages. */
  queuedBytesPerSession: number;
  /** Persistent sessions (clean: false) one account keeps, online or not. */
  sessionsPerAccount: number;
  /** Largest retained payload a client may publish (status messages are a few bytes). */
  retainedMaxBytes: number;
}

export const DEFAULT_MQTT_LIMITS: MqttLimits = {
  connections: 20_000,
  // Generous for a fleet behind one NAT reconnecting at once: a login holds a place only until its CONNACK.
  pendingPerAddress: 256,
  // A vending operator's fleet is one account: a thousand machines must fit, a tenant still gets a tenth.
  connectionsPerAccount: 2_000,
  connectionsPerCredential: 50,
  subscriptionsPerClient: 50,
  queuedPerSession: 1_000,
  queuedBytesPerSession: 1_048_576,
  sessionsPerAccount: 2_000,
  retainedMaxBytes: 1_024,
};

/** Longest client id accepted ([MQTT-3.1.3-5] asks for 23; longer ones MAY be allowed). */
export const MAX_CLIENT_ID_LENGTH = 128;
