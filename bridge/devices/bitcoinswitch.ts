/**
 * LNbits bitcoinSwitch hardware, unmodified, on a Paywire asset. The bitcoinSwitch firmware
 * (lnbits/bitcoinswitch) is configured with a "device string" `wss://<host>/api/v1/ws/<id>`; it opens
 * that WebSocket (TLS, port 443), sends the text `Connected`, and for each paid invoice the LNbits
 * extension (lnbits/bitcoinswitch_extension `tasks.py`) sends one text frame `<pin>-<duration ms>`
 * (optionally `-<comment>`): the firmware drives that GPIO high for that long. Nothing is acknowledged.
 *
 * Here the path's id stands for a device credential of the asset: `<credential_id><tag>`, the tag
 * being an HMAC of the credential (its id and password hash) under a key derived from the bridge's
 * session secret, so it is unguessable, per asset, shown with the credential when it is issued, and
 * dies with it when the credential is revoked. The GPIO is the `pin` query parameter (default 4);
 * the duration is the payment's (the asset's duration, scaled for variable prices).
 *
 * Delivery: on `payment.settled` the frame goes to every switch of the asset connected now, and the
 * payment leaves the outbox once a frame was written to a socket. A switch that connects later (or
 * again) is sent every payment of the asset still in the outbox within the replay window, oldest
 * first. What the protocol cannot give: no acknowledgement, so a frame written to a socket that dies
 * before the firmware reads it is lost, and a frame the firmware received is never known to have run
 * (it blocks in `delay()` while the pin is high, so frames arriving then wait in its buffer).
 */
import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, Server as HttpServer } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { WebSocketServer, type WebSocket } from 'ws';
import type { EventBus } from '../events.js';
import type { LightningStore } from '../lightning/store.js';
import { runsMachine, type PaymentRecord } from '../lightning/types.js';
import type { MachinesStore } from '../machines/store.js';
import type { Metrics } from '../metrics.js';
import type { PublicUrls } from '../urls.js';
import type { DevicesStore } from './store.js';
import type { DeviceCredentialRecord } from './types.js';

/** The path the firmware's device string points at: LNbits' `/api/v1/ws/<id>`. */
export const BITCOINSWITCH_PATH = '/api/v1/ws/';
/** The GPIO when the device string has no `?pin=`. */
export const BITCOINSWITCH_DEFAULT_PIN = 4;
/** The firmware sends one short text (`Connected`); nothing bigger is read. */
const MAX_FRAME_BYTES = 1_024;
/** Connections per asset (one switch, a spare while it reconnects) and in all. */
export const BITCOINSWITCH_MAX_PER_ASSET = 4;
const PING_MS = 30_000;
const ID_PATTERN = /^([a-z0-9]{15})([0-9a-f]{32})$/;
const PIN_PATTERN = /^(0|[1-9][0-9]?)$/;

/** The derivation of switch ids: the key never leaves the bridge. */
export class BitcoinSwitchIds {
  private readonly key: Buffer;

  constructor(sessionSecret: Uint8Array) {
    this.key = Buffer.from(hkdfSync('sha256', sessionSecret, Buffer.from('paywire'), Buffer.from('bitcoinswitch id v1'), 32));
  }

  private tag(credential: Pick<DeviceCredentialRecord, 'credential_id' | 'hash'>): string {
    return createHmac('sha256', this.key).update(`${credential.credential_id}:${credential.hash}`).digest('hex').slice(0, 32);
  }

  /** The id in the switch's path: the credential id and a 128-bit tag. */
  id(credential: Pick<DeviceCredentialRecord, 'credential_id' | 'hash'>): string {
    return `${credential.credential_id}${this.tag(credential)}`;
  }

  /** The device string to paste into the bitcoinSwitch configuration. */
  deviceString(urls: PublicUrls, credential: Pick<DeviceCredentialRecord, 'credential_id' | 'hash'>, pin = BITCOINSWITCH_DEFAULT_PIN): string {
    const base = new URL(urls.base);
    return `${base.protocol === 'http:' ? 'ws:' : 'wss:'}//${base.host}${BITCOINSWITCH_PATH}${this.id(credential)}?pin=${pin}`;
  }

  /** Whether `tag` is the credential's, in constant time. */
  matches(credential: Pick<DeviceCredentialRecord, 'credential_id' | 'hash'>, tag: string): boolean {
    const want = Buffer.from(this.tag(credential), 'hex');
    const got = Buffer.from(tag, 'hex');
    return want.length === got.length && timingSafeEqual(want, got);
  }
}

export interface BitcoinSwitchOptions {
  ids: BitcoinSwitchIds;
  devices: DevicesStore;
  machines: MachinesStore;
  payments: LightningStore;
  bus: EventBus;
  log: Logger;
  /** How far back undelivered payments are sent to a switch that connects (PAYMENT_REPLAY_HOURS). */
  replayWindowMs: number;
  /** Connections in all (MQTT_MAX_CONNECTIONS: switches count like machines). */
  maxConnections: number;
  /** Refused connections are counted in paywire_refusals_total{component="bitcoinswitch"}. */
  metrics?: Metrics;
}

interface Switch {
  ws: WebSocket;
  userId: string;
  assetId: string;
  credentialId: string;
  pin: number;
  alive: boolean;
  /** Payments written to this socket: a payment settling while the replay runs is sent once. */
  sent: Set<string>;
}

export class BitcoinSwitches {
  private readonly options: BitcoinSwitchOptions;
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES });
  private readonly byAsset = new Map<string, Set<Switch>>();
  private count = 0;
  private pinger: NodeJS.Timeout | undefined;

  constructor(options: BitcoinSwitchOptions) {
    this.options = options;
  }

  /** Whether an upgrade request is for a switch (the broker leaves those alone). */
  static claims(path: string): boolean {
    return path.startsWith(BITCOINSWITCH_PATH);
  }

  /** Serve `/api/v1/ws/<id>` on the bridge's HTTP server; `notFound`: also refuse every other upgrade (no broker on this server). */
  attach(http: HttpServer, notFound: boolean): void {
    http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      const url = new URL(req.url ?? '/', 'http://switch');
      if (!BitcoinSwitches.claims(url.pathname)) {
        if (notFound) socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
        return;
      }
      socket.on('error', () => socket.destroy());
      this.upgrade(req, socket, head, url).catch((err: unknown) => {
        this.options.log.error({ err }, 'bitcoinswitch upgrade failed');
        socket.destroy();
      });
    });
  }

  start(): void {
    const { bus } = this.options;
    bus.on('payment.settled', this, ({ payment }) => this.settled(payment));
    bus.on('credential.revoked', this, ({ credentialId }) => {
      for (const set of this.byAsset.values()) for (const s of set) if (s.credentialId === credentialId) s.ws.close(1008, 'credential revoked');
    });
    bus.on('asset.changed', this, ({ asset, deleted }) => {
      if (deleted) for (const s of this.byAsset.get(asset.asset_id) ?? []) s.ws.close(1008, 'asset deleted');
    });
    // The firmware's WebSocketsClient answers pings: a switch that stops answering is dropped.
    this.pinger = setInterval(() => {
      for (const set of this.byAsset.values()) {
        for (const s of set) {
          if (!s.alive) s.ws.terminate();
          s.alive = false;
          s.ws.ping();
        }
      }
    }, PING_MS);
    this.pinger.unref();
  }

  async stop(): Promise<void> {
    this.options.bus.off(this);
    if (this.pinger) clearInterval(this.pinger);
    for (const set of this.byAsset.values()) for (const s of set) s.ws.terminate();
    this.byAsset.clear();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }

  /** Switches connected now (tests, metrics). */
  get connected(): number {
    return this.count;
  }

  private refuse(socket: Duplex, status: string): void {
    this.options.metrics?.refuse('bitcoinswitch', status.startsWith('404') ? 'unknown_switch' : status.startsWith('400') ? 'bad_pin' : 'connection_limit');
    socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  }

  private async upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, url: URL): Promise<void> {
    const match = ID_PATTERN.exec(url.pathname.slice(BITCOINSWITCH_PATH.length));
    const pinText = url.searchParams.get('pin') ?? String(BITCOINSWITCH_DEFAULT_PIN);
    // An unknown id and a wrong tag answer the same 404: the path tells nothing.
    if (!match) return this.refuse(socket, '404 Not Found');
    const [, credentialId, tag] = match as unknown as [string, string, string];
    const credential = await this.options.devices.getCredential(credentialId);
    if (!credential || credential.revoked_at !== null || !this.options.ids.matches(credential, tag)) return this.refuse(socket, '404 Not Found');
    const asset = await this.options.machines.getAsset(credential.asset_id);
    if (!asset || asset.deleted_at !== null || asset.user_id !== credential.user_id) return this.refuse(socket, '404 Not Found');
    if (!PIN_PATTERN.test(pinText)) return this.refuse(socket, '400 Bad Request');
    const perAsset = this.byAsset.get(asset.asset_id)?.size ?? 0;
    if (this.count >= this.options.maxConnections || perAsset >= BITCOINSWITCH_MAX_PER_ASSET) return this.refuse(socket, '503 Service Unavailable');
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      const s: Switch = { ws, userId: asset.user_id, assetId: asset.asset_id, credentialId, pin: Number(pinText), alive: true, sent: new Set() };
      this.add(s);
      this.options.log.info({ userId: s.userId, assetId: s.assetId, credentialId, pin: s.pin }, 'bitcoinswitch connected');
      void this.replay(s).catch((err: unknown) => this.options.log.error({ err, assetId: s.assetId }, 'bitcoinswitch replay failed'));
    });
  }

  private add(s: Switch): void {
    const set = this.byAsset.get(s.assetId) ?? new Set<Switch>();
    set.add(s);
    this.byAsset.set(s.assetId, set);
    this.count += 1;
    s.ws.on('pong', () => (s.alive = true));
    // The firmware says `Connected`; anything it sends only shows it is alive.
    s.ws.on('message', () => (s.alive = true));
    s.ws.on('error', () => s.ws.terminate());
    s.ws.on('close', () => {
      if (set.delete(s)) this.count -= 1;
      if (set.size === 0 && this.byAsset.get(s.assetId) === set) this.byAsset.delete(s.assetId);
    });
  }

  /** `<pin>-<duration ms>`, the extension's frame (lnbits/bitcoinswitch_extension tasks.py). */
  static frame(pin: number, durationMs: number): string {
    return `${pin}-${Math.max(0, Math.round(durationMs))}`;
  }

  /** Write the payment's frame; resolves true once it was handed to the socket without error. */
  private send(s: Switch, payment: PaymentRecord): Promise<boolean> {
    if (s.sent.has(payment.payment_id)) return Promise.resolve(true);
    if (s.ws.readyState !== s.ws.OPEN) return Promise.resolve(false);
    s.sent.add(payment.payment_id);
    return new Promise((resolve) => s.ws.send(BitcoinSwitches.frame(s.pin, payment.duration_ms), (err) => resolve(!err)));
  }

  private async delivered(payment: PaymentRecord): Promise<void> {
    await this.options.payments.markDelivered(payment.payment_id, new Date().toISOString());
  }

  private async settled(payment: PaymentRecord): Promise<void> {
    // A purchase that runs no machine (a license) drives no pin.
    if (!runsMachine(payment)) return;
    const set = this.byAsset.get(payment.asset_id);
    if (!set || set.size === 0) return;
    const sent = await Promise.all([...set].filter((s) => s.userId === payment.user_id).map((s) => this.send(s, payment)));
    if (sent.some(Boolean)) await this.delivered(payment);
  }

  private async replay(s: Switch): Promise<void> {
    const since = new Date(Date.now() - this.options.replayWindowMs).toISOString();
    const owed = (await this.options.payments.undeliveredPayments(s.userId, s.assetId))
      .filter((p) => p.asset_id === s.assetId && (p.settled_at ?? p.created) >= since)
      .sort((a, b) => a.seq - b.seq);
    for (const payment of owed) {
      if (!(await this.send(s, payment))) return;
      await this.delivered(payment);
    }
  }
}
