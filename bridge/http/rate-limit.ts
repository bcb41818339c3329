/**
 * Token-bucket rate limits. `limit` requests may burst at once; tokens refill evenly over `windowMs`
 * (60 per minute refills one per second). A refused request learns how many seconds to wait.
 */
export interface RateDecision {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Seconds until the next request would be allowed (0 when allowed). */
  retryAfterSeconds: number;
}

interface Bucket {
  tokens: number;
  updated: number;
}

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly limit: number;
  private readonly refillPerMs: number;
  private readonly now: () => number;
  private takes = 0;

  /** `limit` 0 disables the limiter. */
  constructor(limit: number, windowMs: number, now: () => number = Date.now) {
    this.limit = limit;
    this.refillPerMs = limit / windowMs;
    this.now = now;
  }

  take(key: string): RateDecision {
    if (this.limit === 0) return { allowed: true, limit: 0, remaining: 0, retryAfterSeconds: 0 };
    const now = this.now();
    if (++this.takes % 1024 === 0) this.sweep(now);
    const bucket = this.buckets.get(key) ?? { tokens: this.limit, updated: now };
    bucket.tokens = Math.min(this.limit, bucket.tokens + (now - bucket.updated) * this.refillPerMs);
    bucket.updated = now;
    this.buckets.set(key, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { allowed: true, limit: this.limit, remaining: Math.floor(bucket.tokens), retryAfterSeconds: 0 };
    }
    const waitMs = (1 - bucket.tokens) / this.refillPerMs;
    return { allowed: false, limit: this.limit, remaining: 0, retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)) };
  }

  /** Forget buckets that have refilled completely: they behave exactly like absent ones. */
  private sweep(now: number): void {
    for (const [key, bucket] of this.buckets) {
      if (bucket.tokens + (now - bucket.updated) * this.refillPerMs >= this.limit) this.buckets.delete(key);
    }
  }
}
