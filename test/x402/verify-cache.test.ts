/**
 * The verify cache (bridge/x402/verify-cache.ts): answers reused within their time to live, expired ones dropped as
 * new ones arrive, the oldest dropped when full (and an answer set again counts from its last setting), every answer
 * about an authorization forgotten when its settlement starts — and setting stays cheap once the cache is full.
 */
import { describe, expect, it } from 'vitest';
import { VerifyCache } from '../../bridge/x402/verify-cache.js';
import type { VerifyAnswer } from '../../bridge/x402/types.js';

const answer = (payer: string): VerifyAnswer => ({ isValid: true, invalidReason: '', payer, timestamp: 1, cachedResult: false });
const FAR = 4_000_000_000;

describe('VerifyCache', () => {
  it('reuses an answer within its time to live, and not after', () => {
    const cache = new VerifyCache({ ttlMs: 1_000 });
    cache.set('a', answer('a'), 10_000, 'k', FAR);
    expect(cache.get('a', 10_500, 6)?.payer).toBe('a');
    expect(cache.get('a', 11_001, 6)).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('drops expired answers as new ones arrive, so the map does not keep them', () => {
    const cache = new VerifyCache({ ttlMs: 1_000 });
    for (let i = 0; i < 100; i++) cache.set(`old${i}`, answer('x'), 0, undefined, FAR);
    cache.set('new', answer('y'), 5_000, undefined, FAR);
    expect(cache.size).toBe(1);
    expect(cache.get('new', 5_000, 6)?.payer).toBe('y');
  });

  it('drops the oldest when full; an answer set again counts from its last setting', () => {
    const cache = new VerifyCache({ ttlMs: 60_000, max: 3 });
    cache.set('a', answer('a'), 1, undefined, FAR);
    cache.set('b', answer('b'), 2, undefined, FAR);
    cache.set('c', answer('c'), 3, undefined, FAR);
    cache.set('a', answer('a2'), 4, undefined, FAR);
    cache.set('d', answer('d'), 5, undefined, FAR);
    expect(cache.get('b', 6, 6)).toBeUndefined();
    expect(['a', 'c', 'd'].map((id) => cache.get(id, 6, 6)?.payer)).toEqual(['a2', 'c', 'd']);
    expect(cache.size).toBe(3);
  });

  it('forgets every answer about an authorization whose settlement started', () => {
    const cache = new VerifyCache({ ttlMs: 60_000 });
    cache.set('v1', answer('p'), 1, 'auth', FAR);
    cache.set('v2', answer('p'), 1, 'auth', FAR);
    cache.set('other', answer('q'), 1, 'other', FAR);
    cache.forgetKey('auth');
    expect(cache.get('v1', 2, 6)).toBeUndefined();
    expect(cache.get('v2', 2, 6)).toBeUndefined();
    expect(cache.get('other', 2, 6)?.payer).toBe('q');
  });

  it('keeps at most max answers through a long run of distinct ones', () => {
    const cache = new VerifyCache({ ttlMs: 60_000, max: 1_000 });
    for (let i = 0; i < 50_000; i++) cache.set(`id${i}`, answer('p'), i, `k${i}`, FAR);
    expect(cache.size).toBe(1_000);
    expect(cache.get('id49999', 50_000, 6)?.payer).toBe('p');
    expect(cache.get('id48999', 50_000, 6)).toBeUndefined();
  });
});
