/**
 * Which address a per-address limit counts (here SIGNUPS_PER_HOUR). Behind TRUST_PROXY the client is the last
 * X-Forwarded-For entry, the one the proxy added: entries before it are the client's own words and change
 * nothing. IPv6 clients count by their /64, so a fresh address from the same subscriber is no way around it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBridge, type TestBridge } from '../helpers/bridge.js';

const PER_HOUR = 2;
let t: TestBridge;
beforeAll(async () => {
  t = await startBridge({ TRUST_PROXY: true, SIGNUPS_PER_HOUR: PER_HOUR });
});
afterAll(() => t.close());

let n = 0;
/** A signup (each its own username) as if from `forwardedFor`: the status. */
const signup = async (forwardedFor: string) =>
  (
    await fetch(`${t.url}/api/v1/accounts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-forwarded-for': forwardedFor },
      body: JSON.stringify({ label: `address-test-${++n}` }),
    })
  ).status;

describe('the client address behind TRUST_PROXY', () => {
  it('is the entry the proxy added: a forged one in front does not make a new client', async () => {
    for (let i = 0; i < PER_HOUR; i++) expect(await signup(`198.51.100.${i}, 203.0.113.7`)).toBe(201);
    expect(await signup('198.51.100.99, 203.0.113.7')).toBe(429);
    expect(await signup('203.0.113.7')).toBe(429);
    // Another client of the proxy.
    expect(await signup('198.51.100.1, 203.0.113.8')).toBe(201);
  });

  it('counts IPv6 clients by their /64', async () => {
    expect(await signup('2001:db8:7::1')).toBe(201);
    expect(await signup('2001:db8:7:0:ffff::2')).toBe(201);
    expect(await signup('2001:db8:7::3')).toBe(429);
    expect(await signup('2001:db8:7:1::1')).toBe(201);
  });
});
