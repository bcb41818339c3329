/**
 * One asset's MQTT connection (the contract in broker/topics.ts): a persistent session (fixed client
 * id, `clean: false`) so payments published while the daemon was away are kept for it; a last will
 * of `offline` on `…/status` and a retained `online` after every connect; QoS 1 subscriptions to
 * `…/payment`, `…/action/set` and `…/license`. A message's PUBACK goes out only after its handler
 * finished (the payment is on disk), so the broker keeps what the daemon has not taken. Reconnects
 * back off exponentially with jitter between `reconnect_min_ms` and `reconnect_max_ms`.
 */
import mqtt, { type IClientOptions, type IPublishPacket, type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { assetTopic, TOPIC_SPECS, type ActionMessage, type AssetTopic, type LicenseRequestMessage } from '../broker/topics.js';

export interface LinkSettings {
  url: string;
  username: string;
  password: string;
  clientId: string;
  keepaliveS: number;
  reconnectMinMs: number;
  reconnectMaxMs: number;
  accountId: string;
  assetId: string;
}

export interface LinkHandlers {
  /** A message on one of the subscribed topics; the PUBACK waits for the promise. */
  message(topic: 'payment' | 'action/set' | 'license', payload: Buffer): Promise<void>;
  /** Connected (again): `sessionPresent` says whether the broker kept the session. */
  connected(sessionPresent: boolean): void;
}

const SUBSCRIBED = ['payment', 'action/set', 'license'] as const;
type Subscribed = (typeof SUBSCRIBED)[number];

export class AssetLink {
  private client: MqttClient | undefined;
  private attempt = 0;
  private readonly topics: Record<Subscribed, string>;
  private stopped = false;
  connects = 0;

  constructor(
    private readonly settings: LinkSettings,
    private readonly handlers: LinkHandlers,
    private readonly log: Logger,
  ) {
    this.topics = {
      payment: this.topic('payment'),
      'action/set': this.topic('action/set'),
      license: this.topic('license'),
    };
  }

  topic(kind: AssetTopic): string {
    return assetTopic(this.settings.accountId, this.settings.assetId, kind);
  }

  get connected(): boolean {
    return this.client?.connected ?? false;
  }

  /** Connect; resolves at the first CONNACK or at the first failure (the client keeps retrying). */
  start(): Promise<void> {
    const s = this.settings;
    const status = TOPIC_SPECS.status;
    const options: IClientOptions = {
      clientId: s.clientId,
      username: s.username,
      password: s.password,
      clean: false, // a persistent session: QoS 1 payments wait in the broker while we are away [MQTT-3.1.2-4]
      protocolVersion: 4,
      keepalive: s.keepaliveS,
      connectTimeout: 10_000,
      reconnectPeriod: s.reconnectMinMs,
      resubscribe: true,
      will: { topic: this.topic('status'), payload: Buffer.from('offline'), qos: status.qos, retain: status.retain },
    };
    const client = mqtt.connect(s.url, options);
    this.client = client;
    client.handleMessage = (packet, done) =>
      this.onPacket(packet as IPublishPacket).then(
        () => done(),
        () => done(),
      );
    client.on('reconnect', () => {
      // The wait before the attempt after this one: min · 2^n, capped, with ±20 % jitter.
      this.attempt += 1;
      const base = Math.min(s.reconnectMaxMs, s.reconnectMinMs * 2 ** Math.min(this.attempt, 20));
      client.options.reconnectPeriod = Math.max(s.reconnectMinMs, Math.round(base * (0.8 + Math.random() * 0.4)));
    });
    client.on('error', (err) => this.log.warn({ asset_id: s.assetId, err: err.message }, 'mqtt error'));
    client.on('offline', () => this.log.warn({ asset_id: s.assetId, retry_ms: client.options.reconnectPeriod }, 'mqtt offline, reconnecting'));
    return new Promise<void>((resolve) => {
      client.once('error', () => resolve());
      client.on('connect', (connack) => {
        this.attempt = 0;
        client.options.reconnectPeriod = s.reconnectMinMs;
        this.connects += 1;
        this.log.info({ asset_id: s.assetId, session_present: connack.sessionPresent, connects: this.connects }, 'mqtt connected');
        void this.afterConnect(client, connack.sessionPresent).finally(resolve);
      });
    });
  }

  private async afterConnect(client: MqttClient, sessionPresent: boolean): Promise<void> {
    try {
      // Every subscription makes the bridge replay the payments nobody acknowledged: the ledger drops repeats.
      if (this.connects === 1 || !sessionPresent) await client.subscribeAsync(Object.values(this.topics), { qos: 1 });
      await client.publishAsync(this.topic('status'), 'online', { qos: TOPIC_SPECS.status.qos, retain: TOPIC_SPECS.status.retain });
      this.handlers.connected(sessionPresent);
    } catch (err) {
      this.log.warn({ asset_id: this.settings.assetId, err: (err as Error).message }, 'could not subscribe or announce online');
    }
  }

  private async onPacket(packet: IPublishPacket): Promise<void> {
    const kind = (Object.keys(this.topics) as Subscribed[]).find((k) => this.topics[k] === packet.topic);
    if (!kind) return;
    const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
    try {
      await this.handlers.message(kind, payload);
    } catch (err) {
      this.log.error({ asset_id: this.settings.assetId, topic: kind, err: (err as Error).message }, 'message handler failed');
      throw err;
    }
  }

  /** Report on `…/action` (QoS 1); resolves at the PUBACK, i.e. once the bridge stored it. */
  async report(message: ActionMessage): Promise<void> {
    if (!this.client) throw new Error('not started');
    await this.client.publishAsync(this.topic('action'), JSON.stringify(message), { qos: TOPIC_SPECS.action.qos, retain: false });
  }

  async requestLicense(request: LicenseRequestMessage): Promise<void> {
    if (!this.client) throw new Error('not started');
    await this.client.publishAsync(this.topic('license/request'), JSON.stringify(request), { qos: TOPIC_SPECS['license/request'].qos, retain: false });
  }

  /** Drop the connection (a full queue): the broker keeps what was not acknowledged; the client reconnects. */
  drop(): void {
    this.client?.stream?.destroy();
  }

  /** Say `offline` (retained) and disconnect cleanly; the session stays in the broker. */
  async stop(): Promise<void> {
    this.stopped = true;
    const client = this.client;
    if (!client) return;
    if (client.connected) {
      await Promise.race([
        client.publishAsync(this.topic('status'), 'offline', { qos: 1, retain: true }).catch(() => undefined),
        new Promise((r) => setTimeout(r, 2_000)),
      ]);
    }
    await client.endAsync(!client.connected).catch(() => undefined);
  }

  get isStopped(): boolean {
    return this.stopped;
  }
}
