/**
 * Recent verify answers, so a payload verified moments ago (a resource server asking twice, a client retrying)
 * is answered from memory with `cachedResult: true`. Bounded (oldest dropped first) and short-lived; an entry is
 * forgotten as soon as its authorization is claimed for settlement, and a valid answer is not reused once the
 * authorization's `validBefore` margin is reached. Entries leave in the order they came (a queue beside the map):
 * expired ones as new ones arrive, the oldest when the cache is full — never by iterating the map, which in V8
 * costs more with every entry deleted from its front.
 */
import { createHash } from 'node:crypto';
import type { FacilitatorRequest, VerifyAnswer } from './types.js';

interface Entry {
  answer: VerifyAnswer;
  at: number;
  key: string | undefined;
  validBefore: number;
}

export class VerifyCache {
  private readonly entries = new Map<string, Entry>();
  private readonly byKey = new Map<string, Set<string>>();
  /** Ids in the order they were set (an id set again appears twice; the older mention is skipped). */
  private order: { id: string; at: number }[] = [];
  private head = 0;
  private readonly ttlMs: number;
  private readonly max: number;

  constructor(options: { ttlMs?: number; max?: number } = {}) {
    this.ttlMs = options.ttlMs ?? 3_000;
    this.max = options.max ?? 10_000;
  }

  static id(request: FacilitatorRequest): string {
    return createHash('sha256').update(JSON.stringify(request)).digest('base64');
  }

  get(id: string, nowMs: number, marginSeconds: number): VerifyAnswer | undefined {
    const entry = this.entries.get(id);
    if (!entry) return undefined;
    if (nowMs - entry.at > this.ttlMs || (entry.answer.isValid && nowMs / 1000 + marginSeconds > entry.validBefore)) {
      this.remove(id);
      return undefined;
    }
    return entry.answer;
  }

  set(id: string, answer: VerifyAnswer, nowMs: number, key: string | undefined, validBefore: number): void {
    if (this.ttlMs <= 0) return;
    this.remove(id);
    // Drop what expired, and the oldest while full.
    while (this.head < this.order.length) {
      const oldest = this.order[this.head] as { id: string; at: number };
      if (this.entries.size < this.max && nowMs - oldest.at <= this.ttlMs) break;
      this.head++;
      if (this.entries.get(oldest.id)?.at === oldest.at) this.remove(oldest.id);
    }
    if (this.head > 1_024 && this.head * 2 > this.order.length) {
      this.order = this.order.slice(this.head);
      this.head = 0;
    }
    this.entries.set(id, { answer, at: nowMs, key, validBefore });
    this.order.push({ id, at: nowMs });
    if (key) {
      const ids = this.byKey.get(key) ?? new Set<string>();
      ids.add(id);
      this.byKey.set(key, ids);
    }
  }

  /** Forget every answer about an authorization (its settlement has started). */
  forgetKey(key: string): void {
    for (const id of this.byKey.get(key) ?? []) this.entries.delete(id);
    this.byKey.delete(key);
  }

  private remove(id: string): void {
    const entry = this.entries.get(id);
    if (!entry) return;
    this.entries.delete(id);
    if (entry.key) {
      const ids = this.byKey.get(entry.key);
      ids?.delete(id);
      if (ids?.size === 0) this.byKey.delete(entry.key);
    }
  }

  get size(): number {
    return this.entries.size;
  }
}
