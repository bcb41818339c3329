/**
 * Licenses on devices over MQTT, with the real `mqtt` client against a real bridge: a device's
 * `…/license/request` is answered on `…/license`, retained, with `POST /v1/validate`'s answer for its
 * key and fingerprint (and its request_id); revoking, suspending, reinstating and expiring a license
 * re-publish the retained answer to every device bound to it within a second.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, startBridge, type TestBridge } from '../helpers/bridge.js';
import { connectMqtt, type TestClient } from '../helpers/mqtt.js';
import { until } from '../helpers/receiver.js';

const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
let t: TestBridge;
let url: string;
const open: TestClient[] = [];

beforeAll(async () => {
  t = await startBridge();
  url = `mqtt://127.0.0.1:${t.info.mqttPort}`;
  expect(
    (await t.request('POST', '/license/v1/admin/products', { headers: admin, body: { slug: 'firmware', name: 'Firmware', price_sats: 1000 } })).status,
  ).toBe(201);
});
afterAll(async () => {
  await Promise.all(open.map((c) => c.end().catch(() => undefined)));
  await t.close();
});

async function issue(body: Record<string, unknown> = {}): Promise<{ license_id: string; license_key: string }> {
  const res = await t.request('POST', '/license/v1/admin/licenses', { headers: admin, body: { product_slug: 'firmware', ...body } });
  expect(res.status).toBe(201);
  return res.body;
}

/** An asset with a device credential, logged in and subscribed to its `license` topic. */
async function device(name: string) {
  const acct = await t.signup(`lic-${name}`);
  const asset = (await t.request('POST', '/api/v1/assets', { token: acct.key, body: { name, price_sats: 10, duration_ms: 1000 } })).body;
  const cred = (await t.request('POST', `/api/v1/assets/${asset.asset_id}/device-credentials`, { token: acct.key, body: {} })).body;
  const c = await connectMqtt(url, { username: cred.username, password: cred.password });
  open.push(c);
  const topic = (kind: string) => `paywire/${acct.userId}/${asset.asset_id}/${kind}`;
  await c.client.subscribeAsync(topic('license'), { qos: 1 });
  const answers = () => c.on(topic('license')) as Record<string, unknown>[];
  return {
    ...acct,
    assetId: asset.asset_id as string,
    cred,
    client: c,
    topic,
    answers,
    /** Publish a request and wait for the answer with its request_id. */
    async ask(request: Record<string, unknown>) {
      const seen = answers().length;
      await c.client.publishAsync(topic('license/request'), JSON.stringify(request), { qos: 1 });
      return until(
        () =>
          answers()
            .slice(seen)
            .find((a) => a['request_id'] === request['request_id']),
        3000,
        'license answer',
      );
    },
    /** Wait for the next answer after `seen` answers. */
    next(seen: number, timeoutMs = 1000) {
      return until(() => answers()[seen], timeoutMs, 'a re-published license answer');
    },
  };
}

const validate = async (body: Record<string, unknown>) => (await t.request('POST', '/license/v1/validate', { body })).body as Record<string, unknown>;

describe('license requests over MQTT', () => {
  it("answers with validate's answer for the device's key and fingerprint, retained", async () => {
    const d = await device('answer');
    const lic = await issue({ max_machines: 1 });
    const answer = await d.ask({ request_id: 'boot-1', key: lic.license_key, fingerprint: 'fp-answer' });
    const { request_id, ...rest } = answer;
    expect(request_id).toBe('boot-1');
    expect(rest).toEqual(await validate({ key: lic.license_key, fingerprint: 'fp-answer' }));
    expect(rest).toMatchObject({ ok: true, license_id: lic.license_id, product_slug: 'firmware' });
    // Retained: a device that connects later reads it at once.
    const late = await connectMqtt(url, { username: d.cred.username, password: d.cred.password });
    open.push(late);
    await late.client.subscribeAsync(d.topic('license'), { qos: 1 });
    const retained = await until(() => late.received.find((m) => m.topic === d.topic('license')), 3000, 'retained answer');
    expect(retained.retain).toBe(true);
    expect(JSON.parse(retained.payload)).toEqual(answer);
  });

  it('another machine on a single-seat license: fingerprint_mismatch, as validate says', async () => {
    const lic = await issue({ max_machines: 1 });
    const a = await device('seat-a');
    const b = await device('seat-b');
    expect(await a.ask({ request_id: 'a', key: lic.license_key, fingerprint: 'machine-a' })).toMatchObject({ ok: true });
    const refused = await b.ask({ request_id: 'b', key: lic.license_key, fingerprint: 'machine-b' });
    expect(refused).toEqual({ request_id: 'b', ...(await validate({ key: lic.license_key, fingerprint: 'machine-b' })) });
    expect(refused).toMatchObject({ ok: false, reason: 'fingerprint_mismatch' });
  });

  it('bad keys: bad_format and bad_signature, as validate says', async () => {
    const d = await device('bad-keys');
    const lic = await issue();
    const forged = lic.license_key.slice(0, -4) + (lic.license_key.endsWith('AAAA') ? 'BAAA' : 'AAAA');
    for (const [id, key] of [
      ['f', 'LIC1-nonsense'],
      ['s', forged],
    ] as const) {
      const answer = await d.ask({ request_id: id, key });
      expect(answer).toEqual({ request_id: id, ...(await validate({ key })) });
    }
    expect(d.answers().map((a) => a['reason'])).toEqual(['bad_format', expect.stringMatching(/bad_signature|bad_format/)]);
  });

  it('revoking re-publishes the retained answer within a second', async () => {
    const d = await device('revoke');
    const lic = await issue();
    await d.ask({ request_id: 'boot', key: lic.license_key, fingerprint: 'fp-revoke' });
    const seen = d.answers().length;
    const started = Date.now();
    expect((await t.request('POST', `/license/v1/admin/licenses/${lic.license_id}/revoke`, { headers: admin, body: { reason: 'chargeback' } })).status).toBe(
      200,
    );
    const pushed = await d.next(seen);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(pushed).toEqual({ request_id: 'boot', ok: false, reason: 'revoked' });
    expect(await t.bridge.metrics.registry.getSingleMetricAsString('paywire_license_answers_republished_total')).toMatch(/why="revoked"} [1-9]/);
    expect(d.client.received.at(-1)?.retain).toBe(false); // live delivery to a subscriber; the broker keeps it retained:
    const late = await connectMqtt(url, { username: d.cred.username, password: d.cred.password });
    open.push(late);
    await late.client.subscribeAsync(d.topic('license'), { qos: 1 });
    const retained = await until(() => late.received.find((m) => m.topic === d.topic('license')), 3000, 'retained answer');
    expect(JSON.parse(retained.payload)).toEqual({ request_id: 'boot', ok: false, reason: 'revoked' });
  });

  it('suspending and reinstating re-publish to every device bound to the license', async () => {
    const lic = await issue({ max_machines: 3 });
    const devices = [await device('multi-1'), await device('multi-2'), await device('multi-3')];
    for (const [i, d] of devices.entries())
      expect(await d.ask({ request_id: `r${i}`, key: lic.license_key, fingerprint: `fp-${i}` })).toMatchObject({ ok: true });
    // A device on another license hears nothing.
    const bystander = await device('bystander');
    await bystander.ask({ request_id: 'x', key: (await issue()).license_key });
    const bystanderSeen = bystander.answers().length;

    let seen = devices.map((d) => d.answers().length);
    const started = Date.now();
    expect((await t.request('POST', `/license/v1/admin/licenses/${lic.license_id}/suspend`, { headers: admin, body: {} })).status).toBe(200);
    const suspended = await Promise.all(devices.map((d, i) => d.next(seen[i] as number)));
    expect(Date.now() - started).toBeLessThan(1000);
    expect(suspended).toEqual(devices.map((_, i) => ({ request_id: `r${i}`, ok: false, reason: 'suspended' })));

    seen = devices.map((d) => d.answers().length);
    expect((await t.request('POST', `/license/v1/admin/licenses/${lic.license_id}/reinstate`, { headers: admin, body: {} })).status).toBe(200);
    const reinstated = await Promise.all(devices.map((d, i) => d.next(seen[i] as number)));
    for (const [i, answer] of reinstated.entries()) {
      expect(answer).toEqual({ request_id: `r${i}`, ...(await validate({ key: lic.license_key, fingerprint: `fp-${i}` })) });
      expect(answer).toMatchObject({ ok: true });
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(bystander.answers().length).toBe(bystanderSeen);
  });

  it('expiry re-publishes within a second of expires_at', async () => {
    const d = await device('expiry');
    // Whole seconds in the key: the license runs out 1–2 s from now.
    const expiresAt = new Date(Math.ceil(Date.now() / 1000) * 1000 + 2000);
    const lic = await issue({ expires_at: expiresAt.toISOString() });
    const answer = await d.ask({ request_id: 'exp', key: lic.license_key, fingerprint: 'fp-exp' });
    expect(answer).toMatchObject({ ok: true, expires_at: expiresAt.toISOString() });
    const pushed = await d.next(d.answers().length, 4000);
    expect(Date.now() - expiresAt.getTime()).toBeLessThan(1000);
    expect(Date.now()).toBeGreaterThanOrEqual(expiresAt.getTime());
    expect(pushed).toEqual({ request_id: 'exp', ok: false, reason: 'expired' });
    expect(pushed).toEqual({ request_id: 'exp', ...(await validate({ key: lic.license_key, fingerprint: 'fp-exp' })) });
  });

  it('a new request replaces the binding: a revoke of the old license no longer reaches the device', async () => {
    const d = await device('rebind');
    const old = await issue();
    const fresh = await issue();
    await d.ask({ request_id: 'old', key: old.license_key });
    await d.ask({ request_id: 'new', key: fresh.license_key });
    const seen = d.answers().length;
    await t.request('POST', `/license/v1/admin/licenses/${old.license_id}/revoke`, { headers: admin, body: {} });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(d.answers().length).toBe(seen);
    await t.request('POST', `/license/v1/admin/licenses/${fresh.license_id}/revoke`, { headers: admin, body: {} });
    expect(await d.next(seen)).toEqual({ request_id: 'new', ok: false, reason: 'revoked' });
  });

  it('malformed requests get no answer and are recorded as error events', async () => {
    const d = await device('malformed');
    for (const payload of ['not json', '{}', JSON.stringify({ request_id: '', key: 'x' }), JSON.stringify({ request_id: 'a', key: 'x', extra: 1 })]) {
      await d.client.client.publishAsync(d.topic('license/request'), payload, { qos: 1 });
    }
    await until(async () => {
      const events = (await t.request('GET', `/api/public/events?type=error&asset_id=${d.assetId}`, { token: d.key })).body.events as unknown[];
      return events.length >= 4;
    });
    expect(d.answers()).toEqual([]);
  });
});
