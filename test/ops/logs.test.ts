/**
 * The log tells the story and keeps the secrets. One bridge at LOG_LEVEL=trace, its log captured,
 * runs a representative flow: signup, the session exchange, a read-only key made and revoked, the
 * key rotated (and the new one used), an asset with a payment link, a device credential issued and
 * revoked, an LNbits wallet saved with its invoice key (a local stand-in, which then goes down and
 * comes back), a webhook delivered, a dev payment settled by the admin, a trigger, and MQTT logins:
 * a good one, a wrong password, a key typed into the username. Every line must be JSON with the
 * story's entries in it, and no line may hold any key, token, password or wallet secret it made.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, startBridge, type TestBridge } from '../helpers/bridge.js';
import { captureLog, type CapturedLog } from '../helpers/log-capture.js';
import { invoice, settle } from '../helpers/machine.js';
import { connectMqtt, type TestClient } from '../helpers/mqtt.js';
import { startReceiver, until, type Receiver } from '../helpers/receiver.js';
import { FakeLnbits } from '../lightning/fakes/lnbits.js';

let t: TestBridge;
let captured: CapturedLog;
let receiver: Receiver;
let lnbits: FakeLnbits;
const clients: TestClient[] = [];
/** Every secret the flow made or typed, with what it was. */
const secrets: [string, string][] = [];

/** The flow's figures, for the assertions below. */
const flow = {
  userId: '',
  assetId: '',
  firstKeyId: '',
  newKeyId: '',
  readKeyId: '',
  credentialId: '',
  devPaymentId: '',
};

const mqttUrl = () => `mqtt://127.0.0.1:${t.info.mqttPort}`;

async function refusedLogin(username: string, password: string): Promise<void> {
  await expect(connectMqtt(mqttUrl(), { username, password })).rejects.toThrow(/bad user ?name or password|not authori[sz]ed/i);
}

beforeAll(async () => {
  captured = captureLog('trace');
  receiver = await startReceiver();
  lnbits = await FakeLnbits.start();
  t = await startBridge({ LOG_LEVEL: 'trace', LIGHTNING_POLL_MS: 50 }, { log: captured.log });
  secrets.push(['admin token', ADMIN_TOKEN], ['LNbits invoice key', lnbits.invoiceKey]);

  // Signup and the GUI session exchange.
  const { key: firstKey, userId } = await t.signup('story-bot');
  flow.userId = userId;
  secrets.push(['first API key', firstKey]);
  const exchange = await t.request('POST', '/api/v1/auth/exchange', { body: { api_key: firstKey } });
  expect(exchange.status).toBe(200);
  secrets.push(['session token', exchange.body.token]);
  expect((await t.request('GET', '/api/v1/accounts/me', { token: exchange.body.token })).status).toBe(200);

  // A read-only key, made and revoked; the first key rotated, the new one used from then on.
  const read = await t.request('POST', '/api/v1/accounts/me/keys', { token: firstKey, body: { scope: 'read' } });
  expect(read.status).toBe(201);
  secrets.push(['read-only key', read.body.api_key]);
  flow.readKeyId = read.body.key_id;
  expect((await t.request('DELETE', `/api/v1/accounts/me/keys/${flow.readKeyId}`, { token: firstKey })).status).toBe(200);
  flow.firstKeyId = (await t.request('GET', '/api/v1/accounts/me/keys', { token: firstKey })).body.keys[0].key_id;
  const rotated = await t.request('POST', '/api/v1/accounts/me/rotate-key', { token: firstKey });
  expect(rotated.status).toBe(200);
  const key = rotated.body.api_key as string;
  flow.newKeyId = rotated.body.key_id;
  secrets.push(['rotated API key', key]);

  // An asset, its payment link, the webhook, a device credential.
  const asset = await t.request('POST', '/api/v1/assets', { token: key, body: { name: 'Story machine', price_sats: 10, duration_ms: 1000 } });
  flow.assetId = asset.body.asset_id;
  expect(asset.status).toBe(201);
  const link = await t.request('POST', `/api/v1/assets/${flow.assetId}/payment-link`, { token: key });
  expect(link.status).toBe(201);
  expect((await t.request('PUT', '/api/v1/accounts/me/webhook', { token: key, body: { url: receiver.url } })).status).toBe(200);
  const credential = await t.request('POST', `/api/v1/assets/${flow.assetId}/device-credentials`, { token: key, body: { label: 'story device' } });
  expect(credential.status).toBe(201);
  flow.credentialId = credential.body.credential_id;
  secrets.push(['device password', credential.body.password]);

  // MQTT: the device logs in; a wrong password and a key typed as the username are refused.
  const device = await connectMqtt(mqttUrl(), { username: credential.body.username, password: credential.body.password });
  clients.push(device);
  await device.client.subscribeAsync(`paywire/${userId}/${flow.assetId}/#`, { qos: 1 });
  const wrong = `lib_${randomBytes(32).toString('hex')}`;
  secrets.push(['wrong MQTT password', wrong]);
  await refusedLogin(userId, wrong);
  await refusedLogin(key, key);

  // A dev payment, settled by the admin; the machine hears of it; a trigger.
  const m = {
    url: t.url,
    userId,
    key,
    assetId: flow.assetId,
    linkUrl: link.body.url as string,
    topic: (k: string) => `paywire/${userId}/${flow.assetId}/${k}`,
  };
  flow.devPaymentId = await settle(t.url, ADMIN_TOKEN, await invoice(m));
  await until(() => device.on(m.topic('payment')).length > 0, 5000, 'the payment message');
  expect((await t.request('POST', `/api/v1/assets/${flow.assetId}/trigger`, { token: key, body: { reason: 'story vend' } })).status).toBe(202);
  await until(() => receiver.received.length > 0, 5000, 'a webhook delivery');

  // The account's own LNbits wallet, with its secret; it goes down with an invoice pending, and comes back.
  const wallet = await t.request('PUT', '/api/v1/accounts/me/wallet', {
    token: key,
    body: { backend: 'lnbits', url: lnbits.url, invoice_key: lnbits.invoiceKey },
  });
  expect(wallet.status, wallet.text).toBe(200);
  const hash = await invoice(m);
  lnbits.failure = { status: 500 };
  await until(() => captured.find('lightning backend down').length > 0, 5000, 'the backend going down');
  // A payer's callback while it is down: a 5xx, logged with the request id the client sent.
  const down = await fetch(`${m.linkUrl}/callback?amount=10000`, { headers: { 'X-Request-Id': 'story-5xx-request' } });
  expect(down.status).toBe(503);
  lnbits.failure = undefined;
  await until(() => captured.find('lightning backend back').length > 0, 5000, 'the backend coming back');
  lnbits.markPaid(hash);
  await until(() => captured.find('payment settled').some((e) => e['backend'] === 'lnbits'), 5000, 'the LNbits payment settling');

  expect((await t.request('DELETE', `/api/v1/assets/${flow.assetId}/device-credentials/${flow.credentialId}`, { token: key })).status).toBe(200);
  await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
  await t.stop();
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
  await t?.close();
  await receiver?.close();
  await lnbits?.close();
});

describe('the log of a representative flow at LOG_LEVEL=trace', () => {
  it('holds no key, token, password or wallet secret the flow made', () => {
    expect(captured.lines.length).toBeGreaterThan(30);
    const text = captured.lines.join('');
    expect(secrets.length).toBe(8);
    for (const [what, secret] of secrets) {
      expect(secret.length, what).toBeGreaterThan(15);
      expect(text.includes(secret), `${what} is in the log`).toBe(false);
      // Nor its random part alone (a key without its lib_ prefix, say).
      const body = secret.replace(/^(lib|dpw)_/, '');
      expect(text.includes(body), `${what} (without its prefix) is in the log`).toBe(false);
    }
  });

  it('is one JSON object per line', () => {
    for (const line of captured.lines) {
      expect(line.endsWith('\n')).toBe(true);
      expect(() => JSON.parse(line)).not.toThrow();
    }
  });

  it('has one line per HTTP request: method, route pattern, status, ms, request id, account id', () => {
    const requests = captured.find('request');
    const asset = requests.find((e) => e['method'] === 'POST' && e['route'] === '/api/v1/assets/:id/device-credentials');
    expect(asset).toMatchObject({ level: 30, status: 201, userId: flow.userId, component: 'http' });
    expect(typeof asset?.['ms']).toBe('number');
    expect(asset?.['requestId']).toMatch(/^[0-9a-f-]{36}$/);
    // Route patterns, never the ids in the path.
    expect(requests.map((e) => String(e['route'])).join(' ')).not.toContain(flow.assetId);
    expect(requests.find((e) => e['route'] === '/api/v1/accounts')).toMatchObject({ method: 'POST', status: 201 });
    expect(requests.find((e) => e['route'] === '/lnurl/pay/:link_id/callback' && e['status'] === 503)).toMatchObject({ requestId: 'story-5xx-request' });
    expect(requests.find((e) => e['route'] === '/api/v1/dev/payments/:payment_hash/settle')).toMatchObject({ status: 200 });
  });

  it('logs every 5xx with its request id', () => {
    expect(captured.find('request failed').find((e) => e['requestId'] === 'story-5xx-request')).toMatchObject({ level: 50 });
  });

  it('tells the story at info: start, keys, credentials, settlements, triggers, the backend, stop', () => {
    const one = (msg: string) => {
      const found = captured.find(msg);
      expect(found.length, msg).toBeGreaterThan(0);
      return found;
    };
    expect(one('paywire bridge listening')[0]).toMatchObject({
      level: 30,
      http: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/),
      mqttPort: t.info.mqttPort,
      publicUrl: t.info.publicUrl,
    });
    expect(one('account created')[0]).toMatchObject({ level: 30, userId: flow.userId });
    expect(one('api key revoked')[0]).toMatchObject({ level: 30, keyId: flow.readKeyId });
    expect(one('api key rotated')[0]).toMatchObject({ level: 30, oldKeyId: flow.firstKeyId, keyId: flow.newKeyId });
    expect(one('device credential issued')[0]).toMatchObject({ level: 30, assetId: flow.assetId, credentialId: flow.credentialId });
    expect(one('device credential revoked')[0]).toMatchObject({ level: 30, credentialId: flow.credentialId });
    expect(one('payment settled').find((e) => e['paymentId'] === flow.devPaymentId)).toMatchObject({
      level: 30,
      rail: 'lightning',
      assetId: flow.assetId,
      amountSats: 10,
      backend: 'dev',
    });
    expect(one('trigger sent')[0]).toMatchObject({ level: 30, assetId: flow.assetId, reason: 'story vend' });
    expect(one('lightning backend down')[0]).toMatchObject({ level: 40, backend: 'lnbits' });
    expect(one('lightning backend back')[0]).toMatchObject({ level: 30, backend: 'lnbits' });
    expect(one('stopped').at(-1)).toMatchObject({ level: 30, httpConnections: expect.any(Number), mqttClients: expect.any(Number) });
  });

  it('warns of refused MQTT logins, naming the address and never a key typed as the username', () => {
    const refused = captured.find('mqtt login refused');
    expect(refused).toHaveLength(2);
    expect(refused[0]).toMatchObject({ level: 40, address: expect.stringMatching(/127\.0\.0\.1/), username: flow.userId, reason: 'bad_credentials' });
    expect(refused[1]).toMatchObject({ level: 40, username: '(not a login name)' });
  });
});

describe('refused MQTT logins from one address', () => {
  it('are all counted but logged a few times a minute, so a password guesser cannot flood the log', async () => {
    const log = captureLog('info');
    const b = await startBridge({}, { log: log.log });
    try {
      const { userId } = await b.signup('guessed');
      const url = `mqtt://127.0.0.1:${b.info.mqttPort}`;
      for (let i = 0; i < 8; i++) {
        await expect(connectMqtt(url, { username: userId, password: `lib_${randomBytes(32).toString('hex')}` })).rejects.toThrow(/bad user ?name or password/i);
      }
      await expect(connectMqtt(url, {})).rejects.toThrow(/not authori[sz]ed/i);
      const lines = log.find('mqtt login refused');
      expect(lines).toHaveLength(3);
      expect(lines.every((l) => l['address'] === '127.0.0.1' || String(l['address']).endsWith('127.0.0.1'))).toBe(true);
      const metrics = (await b.request('GET', '/metrics', { token: ADMIN_TOKEN })).text;
      expect(metrics).toContain('paywire_refusals_total{component="mqtt",reason="login_refused"} 8');
      expect(metrics).toContain('paywire_refusals_total{component="mqtt",reason="login_anonymous"} 1');
    } finally {
      await b.close();
    }
  });
});
