import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBridge, type TestBridge } from '../helpers/bridge.js';
import { startReceiver, until, type Receiver, type Received } from '../helpers/receiver.js';

let t: TestBridge;
let publicKey: KeyObject;
let keyInfo: any;
const receivers: Receiver[] = [];

beforeAll(async () => {
  // A generous request timeout: a slow reply on a loaded machine is still a success. The test of
  // timeouts runs its own bridge with a short one.
  t = await startBridge({ WEBHOOK_RETRY_SCHEDULE_MS: '50,100,150', WEBHOOK_TIMEOUT_MS: 10_000 });
  keyInfo = (await t.request('GET', '/api/public/webhooks/public-key')).body;
  publicKey = createPublicKey(keyInfo.public_key_pem);
});
afterAll(async () => {
  await t.close();
  await Promise.all(receivers.map((r) => r.close()));
});

async function receiver(): Promise<Receiver> {
  const r = await startReceiver();
  receivers.push(r);
  return r;
}

/** A receiver's check, written against the Standard Webhooks spec with node:crypto only. */
function verifyDelivery(r: Received, key: KeyObject = publicKey, toleranceSeconds = 300): boolean {
  const id = r.headers['webhook-id'];
  const ts = r.headers['webhook-timestamp'];
  const sigs = r.headers['webhook-signature'];
  if (typeof id !== 'string' || typeof ts !== 'string' || typeof sigs !== 'string') return false;
  if (Math.abs(Date.now() / 1000 - Number(ts)) > toleranceSeconds) return false;
  const content = Buffer.from(`${id}.${ts}.${r.body}`);
  return sigs.split(' ').some((s) => {
    const [version, b64] = s.split(',');
    return version === 'v1a' && b64 !== undefined && verify(null, content, key, Buffer.from(b64, 'base64'));
  });
}

async function accountWithWebhook(url: string, events?: string[]) {
  const acct = await t.signup('hooked');
  const res = await t.request('PUT', '/api/v1/accounts/me/webhook', { token: acct.key, body: events ? { url, events } : { url } });
  expect(res.status).toBe(200);
  return acct;
}

const deliveries = async (key: string) => (await t.request('GET', '/api/v1/accounts/me/webhook/deliveries', { token: key })).body.deliveries;

describe('webhook signing key', () => {
  it('is published in Standard Webhooks and PEM forms that agree', () => {
    expect(keyInfo).toMatchObject({ algorithm: 'ed25519', scheme: 'standard-webhooks-v1a', headers: ['webhook-id', 'webhook-timestamp', 'webhook-signature'] });
    const raw = Buffer.from(keyInfo.public_key.replace(/^whpk_/, ''), 'base64');
    expect(raw.toString('hex')).toBe(keyInfo.public_key_hex);
    const der = publicKey.export({ type: 'spki', format: 'der' });
    expect(der.subarray(-32).toString('hex')).toBe(keyInfo.public_key_hex);
  });
});

describe('signed outbound webhooks', () => {
  it('delivers each event, signed so a receiver can verify it with the published key', async () => {
    const r = await receiver();
    const acct = await accountWithWebhook(r.url);
    const ev = await t.request('POST', '/api/public/events', { token: acct.key, body: { type: 'paid', external_id: 'inv-9', data: { sats: 21 } } });
    const got = await until(() => r.received[0], 3000, 'a delivery');
    expect(got.headers['content-type']).toBe('application/json');
    expect(verifyDelivery(got)).toBe(true);
    expect(JSON.parse(got.body)).toEqual({
      type: 'event.paid',
      timestamp: ev.body.created,
      data: { ...ev.body, user_id: acct.userId },
    });
    // The check does fail on tampering, a wrong id, a stale timestamp or another key.
    expect(verifyDelivery({ ...got, body: got.body.replace('21', '22') })).toBe(false);
    expect(verifyDelivery({ ...got, headers: { ...got.headers, 'webhook-id': 'msg_other' } })).toBe(false);
    expect(verifyDelivery({ ...got, headers: { ...got.headers, 'webhook-timestamp': String(Number(got.headers['webhook-timestamp']) - 600) } })).toBe(false);
    const stranger = createPublicKey({
      key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), Buffer.alloc(32, 7)]),
      format: 'der',
      type: 'spki',
    });
    expect(verifyDelivery(got, stranger)).toBe(false);

    const log = await until(async () => (await deliveries(acct.key)).find((d: any) => d.status === 'delivered'), 3000, 'delivered');
    expect(log).toMatchObject({ delivery_id: got.headers['webhook-id'], event_id: ev.body.event_id, event_type: 'paid', next_attempt_at: null });
    expect(log.attempts).toEqual([{ at: expect.any(String), status_code: 200, error: null, duration_ms: expect.any(Number) }]);
  });

  it('retries failures with backoff, keeping the id and re-signing each attempt', async () => {
    const r = await receiver();
    r.script = [500, 503];
    const acct = await accountWithWebhook(r.url);
    await t.request('POST', '/api/public/events', { token: acct.key, body: { type: 'action' } });
    const [d] = await until(
      async () => {
        const list = await deliveries(acct.key);
        return list[0]?.status === 'delivered' ? list : undefined;
      },
      5000,
      'third attempt',
    );
    expect(d.attempts.map((a: any) => a.status_code)).toEqual([500, 503, 200]);
    expect(r.received).toHaveLength(3);
    expect(new Set(r.received.map((x) => x.headers['webhook-id'])).size).toBe(1);
    expect(r.received.every((x) => verifyDelivery(x))).toBe(true);
    // Backoff: the gaps follow the schedule (50 ms, then 100 ms, each plus up to 10% jitter).
    const gaps = [r.received[1]!.at - r.received[0]!.at, r.received[2]!.at - r.received[1]!.at];
    expect(gaps[0]).toBeGreaterThanOrEqual(45);
    expect(gaps[1]).toBeGreaterThanOrEqual(95);
  });

  it('gives up after the schedule, recording timeouts and refused connections', async () => {
    const r = await receiver();
    r.fallback = 0; // never answers
    // Its own bridge, with a short request timeout: only this test waits for one.
    const quick = await startBridge({ WEBHOOK_RETRY_SCHEDULE_MS: '50,100,150', WEBHOOK_TIMEOUT_MS: 300 });
    try {
      const acct = await quick.signup('hooked');
      expect((await quick.request('PUT', '/api/v1/accounts/me/webhook', { token: acct.key, body: { url: r.url } })).status).toBe(200);
      await quick.request('POST', '/api/public/events', { token: acct.key, body: { type: 'error' } });
      const [d] = await until(
        async () => {
          const list = (await quick.request('GET', '/api/v1/accounts/me/webhook/deliveries', { token: acct.key })).body.deliveries;
          return list[0]?.status === 'failed' ? list : undefined;
        },
        15_000,
        'failure',
      );
      expect(d.attempts).toHaveLength(4);
      expect(d.attempts.every((a: any) => a.status_code === null && a.error === 'timeout')).toBe(true);
    } finally {
      await quick.close();
    }

    const dead = await receiver();
    await dead.close();
    const acct2 = await accountWithWebhook(dead.url);
    await t.request('POST', '/api/public/events', { token: acct2.key, body: { type: 'error' } });
    const [d2] = await until(
      async () => {
        const list = await deliveries(acct2.key);
        return list[0]?.status === 'failed' ? list : undefined;
      },
      5000,
      'failure',
    );
    expect(d2.attempts[0].error).toBe('refused');
  });

  it('stops on 410 Gone until the webhook is set again', async () => {
    const r = await receiver();
    r.script = [410];
    const acct = await accountWithWebhook(r.url);
    await t.request('POST', '/api/public/events', { token: acct.key, body: { type: 'custom' } });
    const hook = await until(
      async () => {
        const res = await t.request('GET', '/api/v1/accounts/me/webhook', { token: acct.key });
        return res.body.disabled_at ? res.body : undefined;
      },
      3000,
      'disabled',
    );
    expect(hook.url).toBe(r.url);
    await t.request('POST', '/api/public/events', { token: acct.key, body: { type: 'custom' } });
    await new Promise((res) => setTimeout(res, 200));
    expect(r.received).toHaveLength(1);

    await t.request('PUT', '/api/v1/accounts/me/webhook', { token: acct.key, body: { url: r.url } });
    await t.request('POST', '/api/public/events', { token: acct.key, body: { type: 'custom' } });
    await until(() => r.received.length === 2, 3000, 'delivery after re-enabling');
  });

  it('delivers only the chosen event types', async () => {
    const r = await receiver();
    const acct = await accountWithWebhook(r.url, ['paid']);
    await t.request('POST', '/api/public/events', { token: acct.key, body: { type: 'action' } });
    await t.request('POST', '/api/public/events', { token: acct.key, body: { type: 'paid' } });
    await until(() => r.received.length === 1, 3000, 'paid delivery');
    await new Promise((res) => setTimeout(res, 150));
    expect(r.received).toHaveLength(1);
    expect(JSON.parse(r.received[0]!.body).type).toBe('event.paid');
  });

  it('cancels pending deliveries when the webhook is removed', async () => {
    const r = await receiver();
    r.fallback = 500;
    const acct = await accountWithWebhook(r.url);
    await t.request('POST', '/api/public/events', { token: acct.key, body: { type: 'action' } });
    await until(() => r.received.length >= 1, 3000, 'first attempt');
    const del = await t.request('DELETE', '/api/v1/accounts/me/webhook', { token: acct.key });
    expect(del.status).toBe(200);
    const [d] = await deliveries(acct.key);
    expect(d.status).toBe('cancelled');
    const count = r.received.length;
    await new Promise((res) => setTimeout(res, 400));
    expect(r.received.length).toBe(count);
  });

  it('validates the webhook and keeps accounts apart', async () => {
    const acct = await t.signup('no-hook');
    expect((await t.request('GET', '/api/v1/accounts/me/webhook', { token: acct.key })).body.error).toBe('webhook_not_found');
    expect((await t.request('DELETE', '/api/v1/accounts/me/webhook', { token: acct.key })).status).toBe(404);
    for (const body of [
      {},
      { url: 'ftp://x.example' },
      { url: 'not a url' },
      { url: 'https://u:p@x.example' },
      { url: 'https://x.example', events: ['refund'] },
      { url: 'https://x.example', secret: 'x' },
    ]) {
      const res = await t.request('PUT', '/api/v1/accounts/me/webhook', { token: acct.key, body });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error).toBe('invalid_body');
    }
    const r = await receiver();
    const other = await accountWithWebhook(r.url);
    const ev = await t.request('POST', '/api/public/events', { token: other.key, body: { type: 'paid' } });
    expect(ev.status).toBe(201);
    await until(
      async () => (await deliveries(other.key)).find((d: any) => d.event_id === ev.body.event_id && d.status === 'delivered'),
      5000,
      "the other account's delivery",
    );
    // The other account's delivery exists, and the first account does not see it.
    const seen = await deliveries(acct.key);
    expect(seen.map((d: any) => d.event_id)).not.toContain(ev.body.event_id);
    expect(seen).toEqual([]);
    const mine = await t.request('GET', '/api/v1/accounts/me/webhook', { token: other.key });
    expect(mine.body).toMatchObject({ url: r.url, events: [], disabled_at: null, signing: { key_id: keyInfo.key_id } });
  });
});

describe('webhook deliveries survive a restart', () => {
  it('sends a delivery that was due for retry when the bridge stopped, after it starts again', async () => {
    const b = await startBridge({ WEBHOOK_RETRY_SCHEDULE_MS: '1000' });
    const bKeyPem = (await b.request('GET', '/api/public/webhooks/public-key')).body.public_key_pem;
    const r = await startReceiver();
    const port = Number(new URL(r.url).port);
    await r.close(); // the receiver is down: the first attempt fails, a retry is due 1 s later
    const acct = await b.signup('restart');
    await b.request('PUT', '/api/v1/accounts/me/webhook', { token: acct.key, body: { url: r.url } });
    const ev = await b.request('POST', '/api/public/events', { token: acct.key, body: { type: 'paid' } });
    await until(
      async () => (await b.request('GET', '/api/v1/accounts/me/webhook/deliveries', { token: acct.key })).body.deliveries[0]?.attempts.length === 1,
      3000,
      'first attempt',
    );
    await b.stop();

    const back = await startReceiver(port);
    receivers.push(back);
    const again = await startBridge({ WEBHOOK_RETRY_SCHEDULE_MS: '1000' }, { dataDir: b.dataDir });
    try {
      const got = await until(() => back.received[0], 4000, 'delivery after restart');
      // Same data directory, same signing key as before the restart.
      const pem = (await again.request('GET', '/api/public/webhooks/public-key')).body.public_key_pem;
      expect(pem).toBe(bKeyPem);
      expect(verifyDelivery(got, createPublicKey(pem))).toBe(true);
      expect(JSON.parse(got.body).data.event_id).toBe(ev.body.event_id);
      const [d] = await until(
        async () => {
          const list = (await again.request('GET', '/api/v1/accounts/me/webhook/deliveries', { token: acct.key })).body.deliveries;
          return list[0]?.status === 'delivered' ? list : undefined;
        },
        3000,
        'delivered',
      );
      expect(d.attempts.map((a: any) => a.status_code)).toEqual([null, 200]);
      expect(back.received).toHaveLength(1);
    } finally {
      await again.close();
    }
  });
});
