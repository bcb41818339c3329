/** Prometheus figures of license purchases and device license answers, on the bridge's registry. */
import { Counter } from 'prom-client';
import type { Metrics } from '../metrics.js';

export class PurchaseMetrics {
  /** `started` (an invoice made), `issued` (a purchase's license issued), `issue_failed` (alert on it: a paid purchase waits for its license). */
  readonly purchases: Counter<'event'>;
  /** License answers re-published to devices, by why: revoked, suspended, reinstated, expired. */
  readonly republished: Counter<'why'>;

  constructor(metrics: Metrics) {
    this.purchases = new Counter({
      name: 'paywire_license_purchases_total',
      help: 'License purchases: invoices started, licenses issued for settled ones, and failed issues (retried on the next poll or start)',
      labelNames: ['event'],
      registers: [metrics.registry],
    });
    this.republished = new Counter({
      name: 'paywire_license_answers_republished_total',
      help: "License answers re-published to devices over MQTT after a license's standing changed, by why",
      labelNames: ['why'],
      registers: [metrics.registry],
    });
  }
}
