/** The facilitator's Prometheus metrics, registered on the bridge's registry (bridge/metrics.ts). */
import { Counter, type Registry } from 'prom-client';

export class X402Metrics {
  private readonly verifications: Counter<'network' | 'result'>;
  private readonly settlements: Counter<'network' | 'outcome'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.verifications = new Counter({
      name: 'paywire_x402_verifications_total',
      help: 'x402 verifications by network and result ("valid" or the invalidReason)',
      labelNames: ['network', 'result'],
      registers,
    });
    this.settlements = new Counter({
      name: 'paywire_x402_settlements_total',
      help: 'x402 settlements by network and outcome: settled, pending, refused (verify failed), failed (reverted), out_of_gas (the fee payer needs funds), error',
      labelNames: ['network', 'outcome'],
      registers,
    });
  }

  verification(network: string, result: string): void {
    this.verifications.inc({ network, result });
  }

  settlement(network: string, outcome: 'settled' | 'pending' | 'refused' | 'failed' | 'out_of_gas' | 'error'): void {
    this.settlements.inc({ network, outcome });
  }
}
