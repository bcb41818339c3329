/**
 * Refused MQTT logins (no credentials, or wrong ones), logged at warn and counted. A client guessing
 * passwords must not flood the log: each client address gets a few lines a minute, and the next
 * line it gets says how many were left out. The password is never logged, and the username only
 * when it has the shape of a login name (a user id or `dev_<id>`): a key pasted into the username
 * field must not reach the log either.
 */
import type { Logger } from 'pino';
import { RateLimiter } from '../http/rate-limit.js';
import type { Metrics } from '../metrics.js';

/** Lines per client address per minute. */
const LINES_PER_MINUTE = 3;
const MAX_TRACKED = 10_000;
const LOGIN_NAME = /^(dev_)?[a-z0-9]{1,32}$/;

export class RefusedLogins {
  private readonly log: Logger;
  private readonly metrics: Metrics;
  private readonly limiter = new RateLimiter(LINES_PER_MINUTE, 60_000);
  private readonly suppressed = new Map<string, number>();

  constructor(log: Logger, metrics: Metrics) {
    this.log = log;
    this.metrics = metrics;
  }

  refused(address: string, username: string | undefined, reason: 'anonymous' | 'bad_credentials'): void {
    this.metrics.refuse('mqtt', reason === 'anonymous' ? 'login_anonymous' : 'login_refused');
    if (!this.limiter.take(address).allowed) {
      // Addresses that went quiet while over the limit are forgotten in bulk rather than kept forever.
      if (this.suppressed.size >= MAX_TRACKED) this.suppressed.clear();
      this.suppressed.set(address, (this.suppressed.get(address) ?? 0) + 1);
      return;
    }
    const before = this.suppressed.get(address) ?? 0;
    this.suppressed.delete(address);
    const shown = username === undefined ? null : LOGIN_NAME.test(username) ? username : '(not a login name)';
    this.log.warn({ address, username: shown, reason, ...(before > 0 ? { notLogged: before } : {}) }, 'mqtt login refused');
  }
}
