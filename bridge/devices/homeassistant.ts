/**
 * Sales stats and Home Assistant MQTT discovery for every asset.
 *
 * Stats: each asset's retained `…/stats` (`StatsMessage`: settled payments, revenue, last payment) is
 * part of the MQTT contract, so it is published whenever the broker runs: at start for every asset,
 * when an asset is created, and on every `payment.settled`; a deleted asset's stats are cleared.
 * Counters live in memory, computed at start from the payments store.
 *
 * Discovery (`HOMEASSISTANT_DISCOVERY`): per asset, retained configs for a "Test vend" button and
 * "Sales"/"Revenue" sensors. The ACL confines a client to `paywire/<user_id>/…`, so a Home Assistant
 * logged in with one account's key could never read `homeassistant/#`: each account gets its own
 * discovery prefix, `paywire/<user_id>/homeassistant`, set as "discovery prefix" in Home Assistant's
 * MQTT options (it may have several levels: HA subscribes `<prefix>/+/+/config` and
 * `<prefix>/+/+/+/config`). Configs follow the asset: republished on every change, removed (empty
 * retained payloads) when it is deleted. With discovery off nothing is published under any prefix.
 */
import type { Logger } from 'pino';
import type { Broker } from '../../broker/broker.js';
import { assetTopic, BRIDGE_STATE_TOPIC, TOPIC_ROOT, TOPIC_SPECS, type StatsMessage } from '../../broker/topics.js';
import type { EventBus } from '../events.js';
import type { LightningStore } from '../lightning/store.js';
import { runsMachine, type PaymentRecord } from '../lightning/types.js';
import type { MachinesStore } from '../machines/store.js';
import type { AssetRecord } from '../machines/types.js';

export interface HomeAssistantOptions {
  broker: Broker;
  bus: EventBus;
  machines: MachinesStore;
  payments: LightningStore;
  log: Logger;
  /** Publish discovery configs (`HOMEASSISTANT_DISCOVERY`); stats are published either way. */
  discovery: boolean;
  /** The bridge's version, for the configs' `origin`. */
  version: string;
}

/** A discovery config: its topic and its JSON payload. */
interface DiscoveryConfig {
  topic: string;
  payload: Record<string, unknown>;
}

/** Home Assistant's default prefix is `homeassistant`; ours sits inside the account's subtree. */
function discoveryPrefix(userId: string): string {
  return `${TOPIC_ROOT}/${userId}/homeassistant`;
}

/** HA: node_id and object_id only [a-zA-Z0-9_-]; asset ids are lowercase alphanumerics. */
function nodeId(assetId: string): string {
  return `paywire_${assetId}`;
}

const ONLINE = 'online';
const OFFLINE = 'offline';
/** Page size when counting an asset's settled payments at start. */
const PAGE = 500;
/** A payment the start-up count already saw may still announce itself on the bus this long after. */
const LATE_EVENT_MS = 60_000;

/**
 * The three configs of an asset, as Home Assistant's MQTT discovery reads them:
 * `<prefix>/<component>/<node_id>/<object_id>/config`, retained JSON with `unique_id`, `device`,
 * `availability` and `origin`.
 */
export function discoveryConfigs(asset: AssetRecord, version: string): DiscoveryConfig[] {
  const node = nodeId(asset.asset_id);
  const topic = (kind: 'stats' | 'trigger' | 'status') => assetTopic(asset.user_id, asset.asset_id, kind);
  const common = {
    // Available only while both the machine and the bridge say so.
    availability: [
      { topic: topic('status'), payload_available: ONLINE, payload_not_available: OFFLINE },
      { topic: BRIDGE_STATE_TOPIC, payload_available: ONLINE, payload_not_available: OFFLINE },
    ],
    availability_mode: 'all',
    device: { identifiers: [node], name: asset.name, manufacturer: 'Paywire', model: 'asset' },
    origin: { name: 'Paywire', sw_version: version },
  };
  const config = (component: 'button' | 'sensor', objectId: string, entity: Record<string, unknown>): DiscoveryConfig => ({
    topic: `${discoveryPrefix(asset.user_id)}/${component}/${node}/${objectId}/config`,
    payload: { ...entity, unique_id: `${node}_${objectId}`, ...common },
  });
  return [
    // HA's button publishes `payload_press` to `command_topic`; the dispatcher turns a `trigger` into `action/set`.
    config('button', 'test_vend', {
      name: 'Test vend',
      command_topic: topic('trigger'),
      payload_press: 'PRESS',
      qos: TOPIC_SPECS.trigger.qos,
      // Never retain a command: it would fire again on every reconnect.
      retain: false,
      icon: 'mdi:play-circle-outline',
    }),
    config('sensor', 'sales', {
      name: 'Sales',
      state_topic: topic('stats'),
      value_template: '{{ value_json.sales }}',
      state_class: 'total_increasing',
      icon: 'mdi:cart-outline',
    }),
    config('sensor', 'revenue', {
      name: 'Revenue',
      state_topic: topic('stats'),
      value_template: '{{ value_json.revenue_sats }}',
      unit_of_measurement: 'sats',
      state_class: 'total_increasing',
      icon: 'mdi:lightning-bolt',
    }),
  ];
}

interface Counter {
  stats: StatsMessage;
  /** Payments the count read from the store that settled just before: their bus event may still come. */
  counted: Set<string>;
}

export class HomeAssistant {
  private readonly options: HomeAssistantOptions;
  private readonly counters = new Map<string, Counter>();
  /** Every publish goes through this chain, so topics change in the order things happened. */
  private queue: Promise<void> = Promise.resolve();

  constructor(options: HomeAssistantOptions) {
    this.options = options;
  }

  async start(): Promise<void> {
    const { bus } = this.options;
    bus.on('payment.settled', this, ({ payment }) => this.enqueue(() => this.onSettled(payment)));
    bus.on('asset.changed', this, ({ asset, deleted }) => this.enqueue(() => this.onAssetChanged(asset, deleted)));
    // Counting every asset's sales reads every settled payment: done in the background, so a large
    // store does not hold up the start (what happens meanwhile queues behind it, in order).
    void this.enqueue(async () => {
      for (const asset of await this.options.machines.listAllAssets()) await this.publishAsset(asset);
    });
  }

  async stop(): Promise<void> {
    this.options.bus.off(this);
    await this.queue;
  }

  private enqueue(task: () => Promise<void>): Promise<void> {
    const run = this.queue.then(task).catch((err: unknown) => this.options.log.error({ err }, 'home assistant publish failed'));
    this.queue = run;
    return run;
  }

  private async onSettled(payment: PaymentRecord): Promise<void> {
    if (!runsMachine(payment)) return;
    const asset = await this.options.machines.getAsset(payment.asset_id);
    if (!asset || asset.deleted_at !== null) return;
    let counter = this.counters.get(asset.asset_id);
    if (!counter) {
      // Counted now, after the payment was stored: the count holds it.
      counter = await this.count(asset.asset_id);
      counter.counted.delete(payment.payment_id);
    } else if (!counter.counted.delete(payment.payment_id)) {
      add(counter.stats, payment);
    }
    await this.publishStats(asset, counter.stats);
  }

  private async onAssetChanged(asset: AssetRecord, deleted: boolean): Promise<void> {
    if (!deleted) {
      await this.publishAsset(asset);
      return;
    }
    this.counters.delete(asset.asset_id);
    // [MQTT-3.3.1-10]: a zero-byte retained message removes the retained one; HA removes the entity.
    if (this.options.discovery) {
      for (const config of discoveryConfigs(asset, this.options.version)) await this.publish(config.topic, '');
    }
    await this.publish(assetTopic(asset.user_id, asset.asset_id, 'stats'), '');
  }

  /** The asset's configs (when enabled) and its stats, counted on first sight. */
  private async publishAsset(asset: AssetRecord): Promise<void> {
    if (this.options.discovery) {
      for (const config of discoveryConfigs(asset, this.options.version)) await this.publish(config.topic, JSON.stringify(config.payload));
    }
    const known = this.counters.get(asset.asset_id);
    if (!known) await this.publishStats(asset, (await this.count(asset.asset_id)).stats);
  }

  /** Count the asset's settled payments from the store and keep the counter. */
  private async count(assetId: string): Promise<Counter> {
    const counter: Counter = { stats: { sales: 0, revenue_sats: 0, last_paid_at: null }, counted: new Set() };
    const recent = Date.now() - LATE_EVENT_MS;
    let before: number | undefined;
    do {
      const page = await this.options.payments.listPayments(assetId, before === undefined ? { limit: PAGE } : { limit: PAGE, before }, 'settled');
      for (const payment of page.items) {
        add(counter.stats, payment);
        if (Date.parse(payment.settled_at ?? payment.created) >= recent) counter.counted.add(payment.payment_id);
      }
      before = page.next ?? undefined;
    } while (before !== undefined);
    this.counters.set(assetId, counter);
    return counter;
  }

  private publishStats(asset: AssetRecord, stats: StatsMessage): Promise<void> {
    return this.publish(assetTopic(asset.user_id, asset.asset_id, 'stats'), JSON.stringify(stats));
  }

  /** Discovery configs and stats alike: QoS 1, retained (`TOPIC_SPECS.stats`). */
  private publish(topic: string, payload: string): Promise<void> {
    const { qos, retain } = TOPIC_SPECS.stats;
    return this.options.broker.publish(topic, payload, { qos, retain });
  }
}

function add(stats: StatsMessage, payment: PaymentRecord): void {
  stats.sales += 1;
  stats.revenue_sats += payment.amount_sats;
  const paidAt = payment.settled_at ?? payment.created;
  if (stats.last_paid_at === null || paidAt > stats.last_paid_at) stats.last_paid_at = paidAt;
}
