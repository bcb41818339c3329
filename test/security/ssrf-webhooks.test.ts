/**
 * No SSRF through webhooks: a webhook at a loopback, private, link-local or otherwise forbidden
 * address (every spelling) is refused when saved and, when it got stored anyway (saved under a laxer
 * policy), at delivery, where the log says only "refused" and nothing is connected to. A name that
 * resolves to loopback is refused at delivery. OUTBOUND_ALLOW lets a named host through.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBridge, type TestBridge } from '../helpers/bridge.js';
import { startReceiver, until, type Receiver } from '../helpers/receiver.js';
import { ALLOW_EVERYTHING, FORBIDDEN_HOSTS, outboundRefusals, startCountingServer, type CountingServer } from './forbidden-addresses.js';

/** The real policy: nothing allowed but public addresses. One attempt per delivery, then a long wait. */
const STRICT = { OUTBOUND_ALLOW: '', WEBHOOK_RETRY_SCHEDULE_MS: '600000', WEBHOOK_TIMEOUT_MS: 2000 };

let target: CountingServer;
beforeAll(async () => {
  target = await startCountingServer();
});
afterAll(async () => {
  await target.close();
});

const hookUrl = (host: string) => `http://${host}:${target.port}/hook`;

async function firstAttempt(t: TestBridge, key: string): Promise<{ status_code: number | null; error: string | null }> {
  const delivery = await until(
    async () => {
      const list = (await t.request('GET', '/api/v1/accounts/me/webhook/deliveries', { token: key })).body.deliveries;
      return list[0]?.attempts.length > 0 ? list[0] : undefined;
    },
    10_000,
    'a delivery attempt',
  );
  return delivery.attempts[0];
}

describe('webhooks at forbidden addresses', () => {
  it('are refused when saved, in every spelling, with 400 invalid_body', async () => {
    const t = await startBridge({ OUTBOUND_ALLOW: '' });
    try {
      const { key } = await t.signup('hooks');
      for (const [host, what] of FORBIDDEN_HOSTS) {
        const res = await t.request('PUT', '/api/v1/accounts/me/webhook', { token: key, body: { url: hookUrl(host) } });
        expect(res.status, `${host} (${what})`).toBe(400);
        expect(res.body.error).toBe('invalid_body');
        expect(res.body.message).toMatch(/url: points at a .* address, which this server does not deliver to/);
      }
    } finally {
      await t.close();
    }
  });

  it('are refused at delivery when stored under a laxer policy: the log says "refused" and nothing is connected to', async () => {
    const lax = await startBridge({ OUTBOUND_ALLOW: ALLOW_EVERYTHING });
    const accounts: { host: string; key: string }[] = [];
    for (const [host] of FORBIDDEN_HOSTS) {
      const { key } = await lax.signup('stored-hook');
      expect((await lax.request('PUT', '/api/v1/accounts/me/webhook', { token: key, body: { url: hookUrl(host) } })).status).toBe(200);
      accounts.push({ host, key });
    }
    await lax.stop();

    const t = await startBridge(STRICT, { dataDir: lax.dataDir });
    try {
      for (const { key } of accounts) await t.request('POST', '/api/public/events', { token: key, body: { type: 'paid' } });
      for (const { host, key } of accounts) {
        expect(await firstAttempt(t, key), host).toEqual(expect.objectContaining({ status_code: null, error: 'refused' }));
      }
      expect(target.connections).toBe(0);
      expect(await outboundRefusals(t, 'ssrf')).toBeGreaterThanOrEqual(FORBIDDEN_HOSTS.length);
    } finally {
      await t.close();
      await lax.close();
    }
  });

  it('refuses a name that resolves to loopback at delivery, and says no more than "refused" for a closed port', async () => {
    const t = await startBridge(STRICT);
    try {
      const named = await t.signup('named');
      // A name passes the save check (it may point elsewhere tomorrow); the delivery resolves it.
      expect((await t.request('PUT', '/api/v1/accounts/me/webhook', { token: named.key, body: { url: hookUrl('localhost') } })).status).toBe(200);
      await t.request('POST', '/api/public/events', { token: named.key, body: { type: 'paid' } });
      expect(await firstAttempt(t, named.key)).toMatchObject({ status_code: null, error: 'refused' });
      expect(target.connections).toBe(0);
    } finally {
      await t.close();
    }

    // Allowed, but nothing listens: the same single word, not the socket error (no port scanner).
    const closed = await startReceiver();
    await closed.close();
    const open = await startBridge({ ...STRICT, OUTBOUND_ALLOW: '127.0.0.1' });
    try {
      const acct = await open.signup('closed-port');
      expect((await open.request('PUT', '/api/v1/accounts/me/webhook', { token: acct.key, body: { url: closed.url } })).status).toBe(200);
      await open.request('POST', '/api/public/events', { token: acct.key, body: { type: 'paid' } });
      expect(await firstAttempt(open, acct.key)).toMatchObject({ status_code: null, error: 'refused' });
    } finally {
      await open.close();
    }
  });
});

describe('OUTBOUND_ALLOW', () => {
  let receiver: Receiver;
  beforeAll(async () => {
    receiver = await startReceiver();
  });
  afterAll(async () => {
    await receiver.close();
  });

  it('lets an allowed name through while other loopback addresses stay refused', async () => {
    const t = await startBridge({ ...STRICT, OUTBOUND_ALLOW: 'localhost' });
    try {
      const acct = await t.signup('lan-hook');
      const port = new URL(receiver.url).port;
      // The name is allowed wherever it resolves; the bare address is not.
      const literal = await t.request('PUT', '/api/v1/accounts/me/webhook', { token: acct.key, body: { url: `http://127.0.0.1:${port}/hook` } });
      expect(literal.status).toBe(400);
      expect((await t.request('PUT', '/api/v1/accounts/me/webhook', { token: acct.key, body: { url: `http://localhost:${port}/hook` } })).status).toBe(200);
      await t.request('POST', '/api/public/events', { token: acct.key, body: { type: 'paid' } });
      expect(await firstAttempt(t, acct.key)).toMatchObject({ status_code: 200, error: null });
      expect(receiver.received).toHaveLength(1);
    } finally {
      await t.close();
    }
  });

  it('lets an allowed range through (a receiver on the LAN)', async () => {
    const t = await startBridge({ ...STRICT, OUTBOUND_ALLOW: '127.0.0.0/8' });
    try {
      const acct = await t.signup('range-hook');
      expect((await t.request('PUT', '/api/v1/accounts/me/webhook', { token: acct.key, body: { url: receiver.url } })).status).toBe(200);
      expect((await t.request('PUT', '/api/v1/accounts/me/webhook', { token: acct.key, body: { url: 'http://10.1.2.3/hook' } })).status).toBe(400);
      expect((await t.request('PUT', '/api/v1/accounts/me/webhook', { token: acct.key, body: { url: receiver.url } })).status).toBe(200);
      const before = receiver.received.length;
      await t.request('POST', '/api/public/events', { token: acct.key, body: { type: 'paid' } });
      expect(await firstAttempt(t, acct.key)).toMatchObject({ status_code: 200, error: null });
      expect(receiver.received.length).toBe(before + 1);
    } finally {
      await t.close();
    }
  });
});
