/**
 * The embedded MQTT broker (Aedes, MQTT 3.1.1) on its own TCP port and over WebSocket at `/mqtt` on
 * the HTTP server. Clients log in with username = account `user_id` and password = an API key of
 * that account, or with a device credential of one asset; anonymous or wrong credentials are refused
 * at CONNECT, and `acl.ts` confines each client. The broker knows nothing of payments: it reports
 * what clients publish, subscribe and acknowledge to whoever attached (the dispatcher).
 *
 * Facing the internet, every tenant is held to `limits.ts` (connections, subscriptions, sessions,
 * queues, retained payloads), each refusal counted and logged (`refusals.ts`). A client id belongs to
 * one login: Aedes keys connections and persistent sessions by client id, so the broker renames each
 * client `<credential id>:<client id>` at login. Two logins asking for the same id get two sessions;
 * only the same login reconnecting takes over its own connection and session [MQTT-3.1.4-2].
 */
import type { IncomingMessage, Server as HttpServer } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Aedes, AedesOptions, AuthenticateError, Client } from 'aedes';
import type { Logger } from 'pino';
import { createWebSocketStream, WebSocketServer } from 'ws';
import { mayPublish, mayReceive, maySubscribe, retainRefusal, type ClientIdentity } from './acl.js';
import { Admission, byteLength } from './admission.js';
import { addressKey } from './address.js';
import { DEFAULT_MQTT_LIMITS, type MqttLimits } from './limits.js';
import { MessageRefused, Refusals, type RefusalCounter } from './refusals.js';
import { Sessions } from './sessions.js';

export interface BrokerAuthenticator {
  /** The identity behind a username/password pair, or undefined when they do not match. */
  authenticate(username: string, password: string): Promise<ClientIdentity | undefined>;
}

/** What the broker reports; all optional. Handlers must not throw (errors are logged). */
export interface BrokerHooks {
  /**
   * A client published an authorised message (or its will was published). Awaited before the
   * message is acknowledged (PUBACK) and routed, so what the bridge stores from it is durable first;
   * a rejection refuses the message, which closes the connection so the client sends it again (a
   * `MessageRefused` says it was refused on purpose, and is not logged as a failure).
   * Without this hook (before the bridge attaches, and while it stops) every message is refused:
   * nothing is acknowledged that no one took.
   */
  accept?(identity: ClientIdentity, topic: string, payload: Buffer, clientId: string, message: MessageFlags): Promise<void>;
  /** A client's subscriptions were granted. */
  subscribed?(identity: ClientIdentity, filters: string[], clientId: string): void;
  /** A client acknowledged a QoS 1 message (PUBACK). */
  acked?(identity: ClientIdentity, topic: string, payload: Buffer, clientId: string): void;
  connected?(identity: ClientIdentity, clientId: string): void;
  disconnected?(identity: ClientIdentity, clientId: string): void;
}

/** How a message came: retained or not, and whether it is a client's last will (published after it left). */
export interface MessageFlags {
  retain: boolean;
  will: boolean;
}

export interface BrokerOptions {
  host: string;
  port: number;
  /** When false (the port was left at its default), a taken port moves the broker to the next free one. */
  portExplicit: boolean;
  auth: BrokerAuthenticator;
  log: Logger;
  /** The caps of `limits.ts`; unset ones take their defaults. */
  limits?: Partial<MqttLimits>;
  /** Where refusals are counted (the bridge's metrics). */
  metrics?: RefusalCounter;
  /** Behind a reverse proxy: a WebSocket client's address is the last X-Forwarded-For entry (TRUST_PROXY). */
  trustProxy?: boolean;
  /** A login was refused (no credentials, or wrong ones): for the bridge's log. Must not throw. */
  onLoginRefused?(address: string, username: string | undefined, reason: 'anonymous' | 'bad_credentials'): void;
}

export interface PublishOptions {
  qos: 0 | 1;
  retain: boolean;
}

/** CONNACK return codes, MQTT 3.1.1 §3.2.2.3. */
const SERVER_UNAVAILABLE = 3;
const BAD_USERNAME_OR_PASSWORD = 4;
const NOT_AUTHORIZED = 5;
const PORT_FALLBACKS = 10;
export const WEBSOCKET_PATH = '/mqtt';
/** Largest MQTT packet a client may send; a bigger one closes its connection. */
export const MAX_PACKET_BYTES = 65_536;
/** A WebSocket frame carries at most one such packet (plus a little framing slack). */
const MAX_WEBSOCKET_FRAME_BYTES = MAX_PACKET_BYTES + 1_024;

/** The parts of Aedes' per-client MQTT parser (mqtt-packet) the packet limit hooks into. */
interface PacketParser {
  packet: { length: number };
  _parseLength(): boolean;
  _emitError(err: Error): void;
}

/**
 * Aedes reads a packet whole, however large its header says it is (up to 256 MiB), before it checks
 * anything. Refuse a packet as soon as its length is known instead: the length is parsed from the
 * fixed header, long before the body arrives.
 */
function limitPacketSize(client: Client, maxBytes: number): boolean {
  const parser = (client as unknown as { _parser?: PacketParser })._parser;
  if (!parser || typeof parser._parseLength !== 'function' || typeof parser._emitError !== 'function') return false;
  const parseLength = parser._parseLength;
  parser._parseLength = function limited(this: PacketParser): boolean {
    const complete = parseLength.call(this);
    if (complete && this.packet.length > maxBytes) {
      this._emitError(new Error(`packet of ${this.packet.length} bytes is over the ${maxBytes}-byte limit`));
      return false;
    }
    return complete;
  };
  return true;
}

/** The client's IP address: its TCP socket's, or for WebSocket clients the upgraded request's. */
function clientAddress(client: Client): string {
  const conn = client.conn as { remoteAddress?: string };
  const req = (client as unknown as { req?: IncomingMessage }).req;
  return conn.remoteAddress ?? req?.socket.remoteAddress ?? 'unknown';
}

function refuse(message: string, returnCode: number): AuthenticateError {
  return Object.assign(new Error(message), { returnCode }) as AuthenticateError;
}

/** The will Aedes keeps on a client (its types leave it out), published when the connection is lost. */
interface ClientWill {
  will?: unknown;
}

export class Broker {
  private readonly options: BrokerOptions;
  private readonly limits: MqttLimits;
  private readonly refusals: Refusals;
  private readonly identities = new WeakMap<Client, ClientIdentity>();
  /** The filters granted to each client (its subscriptions, counted against the cap). */
  private readonly granted = new WeakMap<Client, Set<string>>();
  private sessions: Sessions | undefined;
  private admission: Admission | undefined;
  private hooks: BrokerHooks = {};
  private aedes: Aedes | undefined;
  private server: Server | undefined;
  private wss: WebSocketServer | undefined;
  private readonly sockets = new Set<Socket | Duplex>();
  /** Connections not logged in yet, by address (`limits.pendingPerAddress`). */
  private readonly pendingByAddress = new Map<string, number>();
  /** Frees a connection's pending place: at its login or its close, whichever comes first. */
  private readonly pendingRelease = new WeakMap<Client, () => void>();
  private boundPort = 0;

  constructor(options: BrokerOptions) {
    this.options = options;
    this.limits = { ...DEFAULT_MQTT_LIMITS, ...options.limits };
    this.refusals = new Refusals(options.log, options.metrics);
  }

  get port(): number {
    return this.boundPort;
  }

  /** Clients connected now, over TCP and WebSocket (for the metrics). */
  get connectedClients(): number {
    return this.aedes?.connectedClients ?? 0;
  }

  attach(hooks: BrokerHooks): void {
    this.hooks = hooks;
  }

  async start(): Promise<number> {
    const { Aedes } = await import('aedes');
    const { auth, log } = this.options;
    const aedesOptions: AedesOptions = {
      // Settings for a broker facing the internet (advisory GHSA-5jvp-3p2v-5qgf and Aedes' guidance).
      drainTimeout: 10_000,
      maxInflightInbound: 100,
      connectTimeout: 10_000,
      keepaliveLimit: 3_600,
      maxTopicLevels: 16,
      maxClientsIdLength: 64,
      queueLimit: 256,
      concurrency: 1_000,
      preConnect: (client, packet, done) => {
        this.admission?.requested(client, packet.clientId);
        done(null, true);
      },
      authenticate: (client, username, password, done) => {
        if (username === undefined || password === undefined) {
          this.options.onLoginRefused?.(clientAddress(client), username, 'anonymous');
          done(refuse('anonymous clients are not allowed', NOT_AUTHORIZED), false);
          return;
        }
        auth
          .authenticate(username, password.toString('utf8'))
          .then((identity) => {
            if (!identity) {
              this.options.onLoginRefused?.(clientAddress(client), username, 'bad_credentials');
              done(refuse('bad username or password', BAD_USERNAME_OR_PASSWORD), false);
              return;
            }
            // Gone while its login was looked up: nothing to admit (and no close left to forget it on).
            if (client.closed || client.conn.destroyed) {
              done(refuse('connection closed', SERVER_UNAVAILABLE), false);
              return;
            }
            const admission = this.admission as Admission;
            const refusal = admission.admit(client, identity);
            if (refusal) {
              this.refusals.refuse(refusal.reason, { userId: identity.userId, credentialId: identity.credentialId, clientId: admission.requestedId(client) });
              done(refuse(refusal.message, refusal.code), false);
              return;
            }
            this.identities.set(client, identity);
            this.pendingRelease.get(client)?.();
            done(null, true);
          })
          .catch((err: unknown) => {
            log.error({ err }, 'mqtt authentication failed');
            done(refuse('server unavailable', SERVER_UNAVAILABLE), false);
          });
      },
      // [MQTT-3.3.5-2]: a refused PUBLISH closes the connection (3.1.1 has no negative PUBACK).
      authorizePublish: (client, packet, done) => {
        // `client` is null for wills of clients that are long gone.
        const identity = client ? this.identities.get(client) : undefined;
        if (!client || !identity || !mayPublish(identity, packet.topic)) return done(new Error(`publish to ${packet.topic} denied`));
        // Aedes authorises a will with the very packet it keeps as the client's will.
        const will = packet === (client as unknown as ClientWill).will;
        const retained = packet.retain ? retainRefusal(packet.topic, byteLength(packet.payload), this.limits.retainedMaxBytes) : undefined;
        if (retained) {
          this.refusals.refuse(retained, { userId: identity.userId, credentialId: identity.credentialId, topic: packet.topic, will });
          return done(new MessageRefused(retained));
        }
        const accept = this.hooks.accept;
        if (!accept) return done(new Error('the bridge is not taking messages now'));
        accept(identity, packet.topic, Buffer.from(packet.payload), client.id, { retain: packet.retain, will }).then(
          () => done(null),
          (err: unknown) => {
            // A refusal was counted and logged where it was decided.
            if (!(err instanceof MessageRefused)) log.error({ err, topic: packet.topic }, 'could not take a message; the client will send it again');
            done(err instanceof Error ? err : new Error(String(err)));
          },
        );
      },
      authorizeSubscribe: (client, sub, done) => {
        // `null` refuses this one subscription with SUBACK 0x80 and keeps the connection open.
        const identity = this.identities.get(client);
        if (!identity || !maySubscribe(identity, sub.topic)) return done(null, null);
        const granted = this.granted.get(client) ?? new Set<string>();
        if (!granted.has(sub.topic) && granted.size >= this.limits.subscriptionsPerClient) {
          this.refusals.refuse('subscriptions_per_client', { userId: identity.userId, credentialId: identity.credentialId, topic: sub.topic });
          return done(null, null);
        }
        granted.add(sub.topic);
        this.granted.set(client, granted);
        done(null, sub);
      },
      // Deny by default: whatever Aedes routes or has queued reaches a client only where it may subscribe.
      authorizeForward: (client, packet) => (mayReceive(this.identities.get(client), packet.topic) ? packet : null),
    };
    const aedes = await Aedes.createBroker(aedesOptions);
    this.aedes = aedes;
    const sessions = new Sessions(
      (aedes as unknown as { persistence: unknown }).persistence,
      this.limits,
      this.refusals,
      (client, filter) => this.granted.get(client)?.has(filter) === true,
    );
    this.sessions = sessions;
    // Aedes keeps its connected clients by id in `aedes.clients`.
    this.admission = new Admission(this.limits, sessions, () => (aedes as unknown as { clients: Record<string, Client | undefined> }).clients);
    aedes.on('unsubscribe', (filters, client) => {
      const granted = this.granted.get(client);
      for (const filter of filters) granted?.delete(filter);
    });
    aedes.on('clientError', (client, err) => log.debug({ clientId: client.id, err: err.message }, 'mqtt client error'));
    aedes.on('client', (client) => this.report('connected', client));
    aedes.on('clientDisconnect', (client) => this.report('disconnected', client));
    aedes.on('subscribe', (subs, client) => {
      const identity = this.identities.get(client);
      // Aedes reports refused subscriptions too, with QoS 128.
      const granted = subs.filter((s) => (s.qos as number) !== 128).map((s) => s.topic);
      if (identity && granted.length > 0) this.call(() => this.hooks.subscribed?.(identity, granted, client.id));
    });
    // Aedes knows which message a PUBACK acknowledges only for persistent sessions (clean: false).
    aedes.on('ack', (packet, client) => {
      const identity = client ? this.identities.get(client) : undefined;
      if (!client || !identity || !packet || !('topic' in packet)) return;
      this.call(() => this.hooks.acked?.(identity, packet.topic, Buffer.from(packet.payload), client.id));
    });

    this.server = createServer((socket) => {
      const address = addressKey(socket.remoteAddress ?? 'unknown');
      if (!this.roomFor(socket, address)) return;
      this.track(socket);
      const client = aedes.handle(socket);
      this.awaitLogin(client, socket, address);
      this.guard(client, socket);
    });
    this.boundPort = await this.listen(this.server);
    return this.boundPort;
  }

  /** Serve MQTT over WebSocket at `/mqtt` on the bridge's HTTP server; `claimed` paths are another handler's (bitcoinSwitch). */
  attachWebSocket(http: HttpServer, claimed: (path: string) => boolean = () => false): void {
    const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_WEBSOCKET_FRAME_BYTES });
    this.wss = wss;
    http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      const path = (req.url ?? '').split('?')[0] ?? '';
      if (claimed(path)) return;
      if (path !== WEBSOCKET_PATH || !this.aedes) {
        socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
        return;
      }
      // WebSocket clients count against the same caps as TCP ones.
      const address = this.upgradeAddress(req);
      if (!this.roomFor(socket, address, true)) return;
      wss.handleUpgrade(req, socket, head, (ws) => {
        const stream = createWebSocketStream(ws);
        this.track(stream);
        stream.on('error', () => stream.destroy());
        if (!this.aedes) return;
        const client = this.aedes.handle(stream, req);
        this.awaitLogin(client, stream, address);
        this.guard(client, stream);
      });
    });
  }

  /** Publish to one connected client only (a replay for the client that just subscribed). */
  publishTo(clientId: string, topic: string, payload: string | Buffer, options: PublishOptions): Promise<void> {
    // Aedes keeps its connected clients by id in `aedes.clients` (it uses that map for wills).
    const clients = (this.aedes as unknown as { clients?: Record<string, Client | undefined> } | undefined)?.clients;
    const client = clients?.[clientId];
    if (!client) return Promise.resolve();
    return new Promise((resolve) => {
      client.publish(
        { cmd: 'publish', topic, payload: typeof payload === 'string' ? Buffer.from(payload) : payload, qos: options.qos, retain: false, dup: false },
        // A client that went away meanwhile is not an error: it gets the payment when it subscribes again.
        () => resolve(),
      );
    });
  }

  /** Disconnect every client logged in with a credential that no longer works (a rotated key), and end its sessions. */
  drop(credentialId: string): void {
    for (const client of this.admission?.connections.ofCredential(credentialId) ?? []) client.close();
    void this.sessions?.purge(credentialId).catch((err: unknown) => this.options.log.error({ err }, 'could not end the sessions of a revoked credential'));
  }

  /** Publish as the bridge. Resolves when Aedes has taken the message (delivered or queued). */
  publish(topic: string, payload: string | Buffer, options: PublishOptions): Promise<void> {
    const aedes = this.aedes;
    if (!aedes) return Promise.reject(new Error('broker is not running'));
    return new Promise((resolve, reject) => {
      aedes.publish(
        { cmd: 'publish', topic, payload: typeof payload === 'string' ? Buffer.from(payload) : payload, qos: options.qos, retain: options.retain, dup: false },
        (err) => (err ? reject(err) : resolve()),
      );
    });
  }

  async stop(): Promise<void> {
    const { server, aedes, wss } = this;
    this.server = undefined;
    this.aedes = undefined;
    this.wss = undefined;
    wss?.close();
    for (const socket of this.sockets) socket.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    if (aedes) await new Promise<void>((resolve) => aedes.close(() => resolve()));
  }

  /**
   * The caps on open connections, logged in or not, and on those of one address not logged in yet (TCP and
   * WebSocket alike): a socket beyond either is closed at once (a WebSocket upgrade is answered 503).
   */
  private roomFor(socket: Socket | Duplex, address: string, websocket = false): boolean {
    const pending = this.pendingByAddress.get(address) ?? 0;
    if (this.sockets.size < this.limits.connections && pending < this.limits.pendingPerAddress) return true;
    if (this.sockets.size >= this.limits.connections) this.refusals.refuse('connections_total', { connections: this.sockets.size, websocket });
    else this.refusals.refuse('pending_per_address', { address, pending, websocket });
    if (websocket) socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\n\r\n');
    else socket.destroy();
    return false;
  }

  /** Hold a place of `address` for a connection until it logs in or closes. */
  private awaitLogin(client: Client, socket: Socket | Duplex, address: string): void {
    this.pendingByAddress.set(address, (this.pendingByAddress.get(address) ?? 0) + 1);
    let held = true;
    const release = () => {
      if (!held) return;
      held = false;
      const left = (this.pendingByAddress.get(address) ?? 1) - 1;
      if (left > 0) this.pendingByAddress.set(address, left);
      else this.pendingByAddress.delete(address);
    };
    this.pendingRelease.set(client, release);
    socket.once('close', release);
  }

  /**
   * A WebSocket client's address key (`addressKey`): the connecting socket's, or behind a trusted proxy the last
   * X-Forwarded-For entry, the one that proxy added (the ones before it are whatever the client sent).
   */
  private upgradeAddress(req: IncomingMessage): string {
    const forwarded = this.options.trustProxy ? req.headers['x-forwarded-for'] : undefined;
    const last = (Array.isArray(forwarded) ? forwarded.join(',') : forwarded)?.split(',').at(-1)?.trim();
    return addressKey(last || req.socket.remoteAddress || 'unknown');
  }

  /** Fail closed: a client whose packet size cannot be limited is not served. */
  private guard(client: Client, socket: Socket | Duplex): void {
    if (!limitPacketSize(client, MAX_PACKET_BYTES)) {
      this.options.log.error('cannot limit MQTT packet sizes with this Aedes version; refusing the connection');
      socket.destroy();
    }
  }

  private track(socket: Socket | Duplex): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
  }

  private report(what: 'connected' | 'disconnected', client: Client): void {
    const identity = this.identities.get(client);
    if (identity) this.call(() => this.hooks[what]?.(identity, client.id));
  }

  private call(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.options.log.error({ err }, 'broker hook failed');
    }
  }

  private async listen(server: Server): Promise<number> {
    const { host, port, portExplicit, log } = this.options;
    const attempts = portExplicit || port === 0 ? 1 : PORT_FALLBACKS;
    for (let i = 0; i < attempts; i++) {
      try {
        return await new Promise<number>((resolve, reject) => {
          server.once('error', reject);
          server.listen(port + i, host, () => {
            server.off('error', reject);
            const address = server.address();
            resolve(typeof address === 'object' && address !== null ? address.port : port + i);
          });
        });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
        if (i === attempts - 1) {
          throw new Error(
            portExplicit
              ? `MQTT_PORT ${port} is already in use: stop the other broker or choose another MQTT_PORT`
              : `MQTT ports ${port}-${port + i} are all in use: set MQTT_PORT`,
          );
        }
        log.warn({ port: port + i }, `MQTT port ${port + i} is in use (another broker?); trying ${port + i + 1}. Set MQTT_PORT to choose.`);
      }
    }
    throw new Error('unreachable');
  }
}
