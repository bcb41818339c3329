/**
 * Whether each wallet's Lightning backend answers, as the settlement's lookups find it: one warn line
 * when a backend stops answering and one info line when it answers again, not a line per failed
 * lookup. A wallet is named by its kind and its wallet version (a digest of its settings, never its
 * secrets), so an account's own LNbits and the server's are followed apart.
 */
import type { Logger } from 'pino';

export class BackendHealth {
  private readonly log: Logger;
  /** Wallets that are down, with when they went down and how many lookups failed since. */
  private readonly down = new Map<string, { since: number; failures: number }>();

  constructor(log: Logger) {
    this.log = log;
  }

  failed(backend: string, wallet: string, err: unknown): void {
    const key = `${backend} ${wallet}`;
    const known = this.down.get(key);
    if (known) {
      known.failures += 1;
      return;
    }
    this.down.set(key, { since: Date.now(), failures: 1 });
    this.log.warn({ backend, wallet, err: err instanceof Error ? err.message : String(err) }, 'lightning backend down');
  }

  answered(backend: string, wallet: string): void {
    const key = `${backend} ${wallet}`;
    const known = this.down.get(key);
    if (!known) return;
    this.down.delete(key);
    this.log.info({ backend, wallet, downMs: Date.now() - known.since, failedLookups: known.failures }, 'lightning backend back');
  }
}
