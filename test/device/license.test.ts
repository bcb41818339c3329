/**
 * The license check on the device: `LIC1-` keys (signed here with a test key) checked offline at
 * start, and the bridge's answers on `…/license`: a revoked license stops vending with a clear
 * message on the display, and payments that arrive then are reported as errors, never run.
 */
import * as ed from '@noble/ed25519';
import { sha256 } from '@noble/hashes/sha2.js';
import { afterEach, describe, expect, it } from 'vitest';
import { assetTopic, type LicenseMessage } from '../../broker/topics.js';
import { Daemon } from '../../device/daemon.js';
import { LicenseGuard } from '../../device/license/guard.js';
import { checkLic1Offline, decodeLic1 } from '../../device/license/lic1.js';
import { LicenseSigner, type LicensePayload } from '../../bridge/license/keys.js';
import { ADMIN_TOKEN, startBridge, type TestBridge } from '../helpers/bridge.js';
import { captureLog } from '../helpers/log-capture.js';
import { allEvents, createMachine, deviceLogin, pay } from '../helpers/machine.js';
import { connectMqtt } from '../helpers/mqtt.js';
import { config, RecordingRelay, stateDir, waitFor } from './helpers.js';

const SEED = Uint8Array.from(Buffer.from('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60', 'hex')); // RFC 8032 test 1
const PUBLIC = ed.getPublicKey(SEED);
const PEM = `-----BEGIN PUBLIC KEY-----\n${Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), PUBLIC]).toString('base64')}\n-----END PUBLIC KEY-----\n`;
const PRODUCT = '0b6f5a8e-2c1d-4e3f-9a7b-1c2d3e4f5a6b';

function issue(over: Partial<LicensePayload> = {}, seed = SEED): string {
  const payload: LicensePayload = {
    version: 2,
    flags: 0,
    productUuid: PRODUCT,
    licenseUuid: '7d4e2f10-3a5b-4c6d-8e9f-0a1b2c3d4e5f',
    issuedAt: 1_750_000_000,
    expiresAt: 0,
    fingerprintHash: new Uint8Array(32),
    entitlements: ['vend'],
    ...over,
  };
  // Issued by the bridge's signer (node:crypto): the device's codec must verify what the server makes.
  return new LicenseSigner(seed).issue(payload);
}
const verifyKey = (key: string, publicKey: Uint8Array, check: { productUuid?: string; fingerprint?: string } = {}) => {
  const r = checkLic1Offline(key, publicKey, check);
  return r.ok ? r : { ok: false, reason: r.reason };
};

describe('LIC1 offline check', () => {
  it('accepts a signed key (v1 and v2, any letter case) and refuses every way a key can be wrong', () => {
    expect(PUBLIC).toEqual(Uint8Array.from(Buffer.from('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a', 'hex')));
    const key = issue();
    expect(verifyKey(key, PUBLIC)).toMatchObject({ ok: true, license: { productUuid: PRODUCT, entitlements: ['vend'] } });
    expect(verifyKey(key.toLowerCase(), PUBLIC).ok).toBe(true);
    expect(verifyKey(issue({ version: 1, entitlements: [] }), PUBLIC)).toMatchObject({ ok: true, license: { version: 1 } });
    expect(decodeLic1(key).payload).toHaveLength(83 + 5);

    const other = issue({}, Uint8Array.from(Buffer.alloc(32, 7)));
    expect(verifyKey(other, PUBLIC)).toEqual({ ok: false, reason: 'bad_signature' });
    expect(verifyKey('LIC1-NOTBASE32!-AAAA', PUBLIC)).toEqual({ ok: false, reason: 'bad_format' });
    expect(verifyKey(key.replace('LIC1-', 'LIC2-'), PUBLIC)).toEqual({ ok: false, reason: 'bad_format' });
    expect(verifyKey(issue({ expiresAt: 1_000 }), PUBLIC)).toEqual({ ok: false, reason: 'expired' });
    expect(verifyKey(key, PUBLIC, { productUuid: '00000000-0000-0000-0000-000000000000' })).toEqual({ ok: false, reason: 'product_mismatch' });
    const bound = issue({ flags: 1, fingerprintHash: sha256(new TextEncoder().encode('pi-0001')) });
    expect(verifyKey(bound, PUBLIC, { fingerprint: 'pi-0001' }).ok).toBe(true);
    expect(verifyKey(bound, PUBLIC, { fingerprint: 'pi-0002' })).toEqual({ ok: false, reason: 'fingerprint_mismatch' });
  });

  it('the guard: a bad key stops vending; the server can revoke a good one, not vouch for a bad one; not_available changes nothing', () => {
    const bad = new LicenseGuard({ key: issue({}, Uint8Array.from(Buffer.alloc(32, 7))), public_key: PEM, online: true });
    expect(bad.checkOffline()).toMatchObject({ ok: false, reason: 'bad_signature', message: 'License key invalid - vending stopped' });
    const ok: LicenseMessage = { request_id: 'r', ok: true, license_id: 'l', product_id: PRODUCT, product_slug: 'vend', issued_at: '' };
    expect(bad.online(ok).ok).toBe(false);

    const good = new LicenseGuard({ key: issue(), public_key: Buffer.from(PUBLIC).toString('hex'), product_id: PRODUCT, online: true });
    expect(good.checkOffline().ok).toBe(true);
    expect(good.online({ request_id: 'r', ok: false, reason: 'not_available' }).ok).toBe(true);
    expect(good.online({ request_id: 'r', ok: false, reason: 'revoked' })).toMatchObject({ ok: false, message: 'License revoked - vending stopped' });
    expect(good.online(ok).ok).toBe(true);
  });
});

describe('the daemon with a license', () => {
  let bridge: TestBridge | undefined;
  let daemon: Daemon | undefined;
  afterEach(async () => {
    await daemon?.stop();
    await bridge?.close();
    daemon = undefined;
    bridge = undefined;
  });

  async function start(key: string, publicKey = PEM, productId = PRODUCT) {
    bridge ??= await startBridge();
    const m = await createMachine(bridge.url, 'Vend', { duration_ms: 100 });
    const login = await deviceLogin(m);
    const relay = new RecordingRelay();
    const captured = captureLog('info');
    daemon = new Daemon(
      config(m, login, bridge.info.mqttPort!, await stateDir(), { license: { key, public_key: publicKey, product_id: productId, fingerprint: 'pi-0001' } }),
      captured.log,
      { relay: () => relay },
    );
    await daemon.start();
    await waitFor('online', async () => (await bridge!.request('GET', `/api/v1/assets/${m.assetId}`, { token: m.key })).body.online === true);
    return { m, relay, captured };
  }

  it('checks a key of the bridge license server offline and over …/license/request, vends, and stops with a clear message when it is revoked', async () => {
    bridge = await startBridge();
    const admin = { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } };
    const product = await bridge.request('POST', '/license/v1/admin/products', { ...admin, body: { slug: 'vend-os', name: 'Vend OS', price_sats: 1000 } });
    expect(product.status).toBe(201);
    const issued = await bridge.request('POST', '/license/v1/admin/licenses', { ...admin, body: { product_slug: 'vend-os', note: 'device test' } });
    expect(issued.status).toBe(201);
    const pem = (await bridge.request('GET', '/license/v1/pubkey')).body;
    const publicKey = typeof pem === 'string' ? pem : String(pem.public_key_pem);
    const { m, relay, captured } = await start(issued.body.license_key, publicKey, product.body.id ?? product.body.product_id);
    expect(daemon!.license.verdict).toMatchObject({ ok: true });

    // The bridge answered the daemon's request on …/license (retained), with the license server's answer.
    const watcher = await connectMqtt(`mqtt://127.0.0.1:${bridge.info.mqttPort}`, { username: m.userId, password: m.key, clean: true });
    await watcher.client.subscribeAsync(m.topic('license'), { qos: 1 });
    const answer = (await waitFor('the answer to our request', () => watcher.on(m.topic('license'))[0])) as LicenseMessage;
    await watcher.end();
    expect(answer).toMatchObject({ ok: true, license_id: issued.body.license_id, request_id: expect.stringMatching(new RegExp(`^${m.assetId}-`)) });
    await waitFor('online verdict', () => daemon!.license.verdict.source === 'online');
    const first = await pay(m, ADMIN_TOKEN);
    await waitFor('vend', () => relay.ons === 1);

    // The operator revokes it: the bridge re-publishes the answer to the asset, and vending stops.
    const revoke = await bridge.request('POST', `/license/v1/admin/licenses/${issued.body.license_id}/revoke`, { ...admin, body: { reason: 'chargeback' } });
    expect(revoke.status).toBe(200);
    await waitFor('vending stopped', () => !daemon!.license.allowed);
    expect(daemon!.license.verdict).toMatchObject({ ok: false, reason: 'revoked', source: 'online' });
    await waitFor('display says so', () => captured.find('display: License revoked - vending stopped').length === 1);

    const second = await pay(m, ADMIN_TOKEN);
    const refused = await waitFor('refusal reported', async () => (await allEvents(m)).find((e: any) => e.type === 'error' && e.data?.payment_id === second));
    expect(refused).toMatchObject({
      external_id: `refused-${second}`,
      data: { fault: 'license', reason: 'revoked', message: 'License revoked - vending stopped' },
    });
    expect(relay.ons).toBe(1);
    expect((await allEvents(m)).some((e: any) => e.external_id === `vend-${first}`)).toBe(true);
  });

  it('a revocation published on …/license (the retained answer) stops vending at any time', async () => {
    const { m, relay } = await start(issue());
    // A key the bridge did not sign (it answers bad_signature): whatever the bridge publishes last is followed.
    await bridge!.bridge.broker!.publish(assetTopic(m.userId, m.assetId, 'license'), JSON.stringify({ request_id: 'x', ok: false, reason: 'suspended' }), {
      qos: 1,
      retain: true,
    });
    await waitFor('vending stopped', () => daemon!.license.verdict.reason === 'suspended');
    await pay(m, ADMIN_TOKEN);
    await waitFor('refusal reported', async () => (await allEvents(m)).some((e: any) => e.type === 'error' && e.data?.reason === 'suspended'));
    expect(relay.ons).toBe(0);
  });

  it('a key that fails the offline check stops vending from the start', async () => {
    const { m, relay, captured } = await start(issue({ expiresAt: 1_000 }));
    expect(daemon!.license.verdict).toMatchObject({ ok: false, reason: 'expired' });
    expect(captured.find('display: License expired - vending stopped')).toHaveLength(1);
    const paymentId = await pay(m, ADMIN_TOKEN);
    await waitFor('refusal reported', async () => (await allEvents(m)).some((e: any) => e.type === 'error' && e.data?.payment_id === paymentId));
    expect(relay.ons).toBe(0);
  });
});
