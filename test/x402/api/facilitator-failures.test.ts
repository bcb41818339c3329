/**
 * Routing of facilitator failures, over HTTP against a real bridge whose facilitator is replaced by a
 * double that throws (the one place a double is used: a real facilitator does not throw on demand).
 * A thrown verify or settle is a 500 VERIFICATION_FAILED / SETTLEMENT_FAILED whose body names none of
 * the internals (they go to the log); a failing /status network read is "degraded", not a 500.
 */
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Facilitator } from '../../../bridge/x402/types.js';
import type { TestBridge } from '../../helpers/bridge.js';
import { client, clientHeaders, expectX402Error, person, startX402Bridge, type Client } from './helpers.js';

const SECRET = 'rpc https://user:hunter2@rpc.internal:8545 refused: fee payer 0xdeadbeef nonce 42';

const throwing: Facilitator = {
  verify: () => Promise.reject(new Error(SECRET)),
  settle: () => Promise.reject(new Error(SECRET)),
  supported: () => Promise.resolve([{ x402Version: 1, scheme: 'exact', network: 'base-sepolia' }]),
  networks: () => Promise.reject(new Error(SECRET)),
  stop: () => Promise.resolve(),
};

const lines: string[] = [];
let b: TestBridge;
let key: Client;

beforeAll(async () => {
  const sink = new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk));
      done();
    },
  });
  b = await startX402Bridge({}, { bridge: { x402Facilitator: () => throwing }, log: pino({ level: 'error' }, sink) });
  key = await client(b, await person(b));
});
afterAll(() => b.close());

/** A body that parses (the double never looks at it). */
const BODY = {
  x402Version: 1,
  paymentPayload: {
    x402Version: 1,
    scheme: 'exact',
    network: 'base-sepolia',
    payload: {
      signature: `0x${'11'.repeat(65)}`,
      authorization: {
        from: '0x1111111111111111111111111111111111111111',
        to: '0x2222222222222222222222222222222222222222',
        value: '1000',
        validAfter: '0',
        validBefore: '99999999999',
        nonce: `0x${'33'.repeat(32)}`,
      },
    },
  },
  paymentRequirements: {
    scheme: 'exact',
    network: 'base-sepolia',
    maxAmountRequired: '1000',
    resource: '/api/protected',
    description: 'Access',
    mimeType: 'application/json',
    payTo: '0x2222222222222222222222222222222222222222',
    maxTimeoutSeconds: 60,
    asset: '0x036CbD53842c5426634e7929541eC2318f3dCF7e',
  },
};

describe('a facilitator that throws', () => {
  it.each([
    ['verify', 'VERIFICATION_FAILED', 'Payment verification failed'],
    ['settle', 'SETTLEMENT_FAILED', 'Payment settlement failed'],
  ])('/%s: 500 %s with the documented message and no internals', async (path, code, message) => {
    const res = await b.request('POST', `/x402/api/v1/${path}`, { headers: clientHeaders(key), body: BODY });
    expectX402Error(res, 500, code);
    expect(res.body.message).toBe(message);
    for (const leak of ['hunter2', 'rpc.internal', '0xdeadbeef', 'nonce 42', 'Error']) expect(res.text).not.toContain(leak);
    // The operator's log has the cause.
    expect(lines.some((l) => l.includes('request failed') && l.includes(`/x402/api/v1/${path}`))).toBe(true);
  });

  it('a malformed body is still the caller’s 400, never reaching the facilitator', async () => {
    expectX402Error(await b.request('POST', '/x402/api/v1/verify', { headers: clientHeaders(key), body: { x: 1 } }), 400, 'INVALID_REQUEST');
  });

  it('/status reports "degraded" with no networks when they cannot be read; /networks is a 500 INTERNAL_ERROR without internals', async () => {
    const status = await b.request('GET', '/x402/api/v1/status');
    expect(status.status).toBe(200);
    expect(status.body.data).toMatchObject({ status: 'degraded', networks: [], database: { status: 'healthy' } });
    const networks = await b.request('GET', '/x402/api/v1/networks');
    expectX402Error(networks, 500, 'INTERNAL_ERROR');
    expect(networks.text).not.toContain('hunter2');
  });
});
