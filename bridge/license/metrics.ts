/** The license server's Prometheus figures, on the bridge's registry: validations by result. */
import { Counter } from 'prom-client';
import type { Metrics } from '../metrics.js';

export class LicenseMetrics {
  readonly validations: Counter<'result'>;

  constructor(metrics: Metrics) {
    this.validations = new Counter({
      name: 'paywire_license_validations_total',
      help: 'License validations answered (HTTP and MQTT), by result: ok or the failure reason',
      labelNames: ['result'],
      registers: [metrics.registry],
    });
  }
}
