/**
 * Prometheus metrics (prom-client), one registry per bridge so several bridges in one process (tests,
 * embedders) never mix their figures. Components report through the methods below; figures that are
 * a count of something held elsewhere (connected MQTT clients, the outbox, pending webhook
 * deliveries) are read when scraped, from the sources `main.ts` hands in. `GET /metrics` serves the
 * registry in the text exposition format behind the admin token.
 *
 * Labels stay few: routes are router patterns (`/api/v1/assets/:id`), never raw paths; rails and
 * statuses are short fixed lists.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Seconds, from half a millisecond (a publish, a commit) to ten seconds (a slow backend). */
const SECONDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

type Source = () => number | Promise<number>;

export class Metrics {
  readonly registry = new Registry();
  /** Something a tenant asked for was refused by a limit or a guard (MQTT caps, SSRF, rate limits). */
  readonly refusals: Counter<'component' | 'reason'>;
  readonly httpRequests: Counter<'method' | 'route' | 'status'>;
  readonly httpDuration: Histogram<'method' | 'route' | 'status'>;
  readonly paymentsSettled: Counter<'rail'>;
  readonly settleToPublish: Histogram;
  readonly storeCommit: Histogram;
  readonly webhookFailures: Counter<'outcome'>;
  private readonly sources: { mqttClients?: Source; outbox?: Source; webhookPending?: Source; bitcoinSwitches?: Source } = {};

  constructor() {
    const registers = [this.registry];
    this.refusals = new Counter({
      name: 'paywire_refusals_total',
      help: 'Requests, connections and messages refused by a limit or guard, by component and reason',
      labelNames: ['component', 'reason'],
      registers,
    });
    this.httpRequests = new Counter({
      name: 'paywire_http_requests_total',
      help: 'HTTP requests answered, by method, route pattern ("unmatched" when no route matched) and status',
      labelNames: ['method', 'route', 'status'],
      registers,
    });
    this.httpDuration = new Histogram({
      name: 'paywire_http_request_duration_seconds',
      help: 'Time from a request arriving to its answer being set, by method, route pattern and status',
      labelNames: ['method', 'route', 'status'],
      buckets: SECONDS,
      registers,
    });
    this.paymentsSettled = new Counter({
      name: 'paywire_payments_settled_total',
      help: 'Payments settled (each once), by rail',
      labelNames: ['rail'],
      registers,
    });
    this.settleToPublish = new Histogram({
      name: 'paywire_settle_to_publish_seconds',
      help: 'From a payment settling (payment.settled on the bus) to its MQTT payment message being published',
      buckets: SECONDS,
      registers,
    });
    this.storeCommit = new Histogram({
      name: 'paywire_store_commit_seconds',
      help: 'Store commits, from the write to its being durable (the journal: appended and synced)',
      buckets: SECONDS,
      registers,
    });
    this.webhookFailures = new Counter({
      name: 'paywire_webhook_failures_total',
      help: 'Webhook delivery attempts that failed: "retry" (another attempt is scheduled) or "gave_up" (the delivery is marked failed)',
      labelNames: ['outcome'],
      registers,
    });
    const sources = this.sources;
    const gauge = (name: string, help: string, key: keyof typeof sources) =>
      new Gauge({
        name,
        help,
        registers,
        async collect() {
          const source = sources[key];
          if (source) this.set(await source());
        },
      });
    gauge('paywire_mqtt_clients', 'MQTT clients connected to the embedded broker (TCP and WebSocket)', 'mqttClients');
    gauge('paywire_outbox_payments', 'Settled payments no machine has acknowledged yet (the MQTT outbox)', 'outbox');
    gauge('paywire_bitcoinswitch_connections', 'LNbits bitcoinSwitch devices connected to their WebSocket (devices/bitcoinswitch.ts)', 'bitcoinSwitches');
    gauge('paywire_webhook_deliveries_pending', 'Webhook deliveries waiting for their first or next attempt (the webhook queue)', 'webhookPending');
  }

  /** Count one refusal. */
  refuse(component: string, reason: string): void {
    this.refusals.inc({ component, reason });
  }

  /** One HTTP request answered (`http/request-log.ts`). */
  httpRequest(method: string, route: string, status: number, seconds: number): void {
    const labels = { method, route, status: String(status) };
    this.httpRequests.inc(labels);
    this.httpDuration.observe(labels, seconds);
  }

  /** A payment settled, once per payment. */
  paymentSettled(rail: string): void {
    this.paymentsSettled.inc({ rail });
  }

  /** A settled payment's MQTT message was published, `seconds` after the settlement was announced. */
  paymentPublished(seconds: number): void {
    this.settleToPublish.observe(seconds);
  }

  /** A store commit became durable after `seconds`. */
  committed(seconds: number): void {
    this.storeCommit.observe(seconds);
  }

  /** A webhook attempt failed; `gaveUp` when no further attempt follows. */
  webhookFailed(gaveUp: boolean): void {
    this.webhookFailures.inc({ outcome: gaveUp ? 'gave_up' : 'retry' });
  }

  private x402Purchases: Counter<'rail' | 'outcome'> | undefined;

  /**
   * An x402 purchase of a machine run was answered (`x402/agents/purchase.ts`), by rail (`evm`,
   * `lightning`, `any`) and outcome (`paid`, `pending`, `refused`, `settle_failed`, `offline`).
   * Alert on `settle_failed`: a payer's valid authorization could not be settled (fee payer out of gas?).
   */
  x402Purchase(rail: string, outcome: string): void {
    this.x402Purchases ??= new Counter({
      name: 'paywire_x402_purchases_total',
      help: 'x402 purchases of machine runs answered, by rail and outcome (paid, pending, refused, settle_failed, offline)',
      labelNames: ['rail', 'outcome'],
      registers: [this.registry],
    });
    this.x402Purchases.inc({ rail, outcome });
  }

  /** Where the gauges read their figures when scraped. */
  observe(sources: { mqttClients?: Source; outbox?: Source; webhookPending?: Source; bitcoinSwitches?: Source }): void {
    Object.assign(this.sources, sources);
  }
}
