/**
 * Prometheus metrics (prom-client), one registry per bridge so several bridges in one process (tests,
 * embedders) never mix their figures. Components take the counters they report to; `GET /metrics`
 * serves the registry in the text exposition format behind the admin token.
 */
import { Counter, Registry } from 'prom-client';

export class Metrics {
  readonly registry = new Registry();
  /** Something a tenant asked for was refused by a limit or a guard (MQTT caps, SSRF, rate limits). */
  readonly refusals: Counter<'component' | 'reason'>;

  constructor() {
    this.refusals = new Counter({
      name: 'paywire_refusals_total',
      help: 'Requests, connections and messages refused by a limit or guard, by component and reason',
      labelNames: ['component', 'reason'],
      registers: [this.registry],
    });
  }

  /** Count one refusal. */
  refuse(component: string, reason: string): void {
    this.refusals.inc({ component, reason });
  }
}
