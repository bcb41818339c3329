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
import { decodeKey, encodePayload, formatKey, verifyKey, type LicensePayload } from '../../device/license/lic1.js';
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
  const raw = encodePayload(payload);
  return formatKey(raw, ed.sign(raw, seed));
}

describe('LIC1 offline check', () => {
  it('accepts a signed key (v1 and v2, any letter case) and refuses every way a key can be wrong', () => {
    expect(PUBLIC).toEqual(Uint8Array.from(Buffer.from('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a', 'hex')));
    const key = issue();
    expect(verifyKey(key, PUBLIC)).toMatchObject({ ok: true, payload: { productUuid: PRODUCT, entitlements: ['vend'] } });
    expect(verifyKey(key.toLowerCase(), PUBLIC).ok).toBe(true);
    expect(verifyKey(issue({ version: 1, entitlements: [] }), PUBLIC)).toMatchObject({ ok: true, payload: { version: 1 } });
    expect(decodeKey(key)!.raw).toHaveLength(83 + 5);

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
  });

  async function start(key: string) {
    bridge = await startBridge();
    const m = await createMachine(bridge.url, 'Vend', { duration_ms: 100 });
    const login = await deviceLogin(m);
    const relay = new RecordingRelay();
    const captured = captureLog('info');
    daemon = new Daemon(config(m, login, bridge.info.mqttPort!, await stateDir(), { license: { key, public_key: PEM, product_id: PRODUCT } }), captured.log, {
      relay: () => relay,
    });
    await daemon.start();
    await waitFor('online', async () => (await bridge!.request('GET', `/api/v1/assets/${m.assetId}`, { token: m.key })).body.online === true);
    return { m, relay, captured };
  }

  it('asks the bridge (…/license/request), vends while valid, and stops with a clear message when the license is revoked', async () => {
    const { m, relay, captured } = await start(issue());
    // This bridge has no license server yet: it answers not_available, and the offline verdict stands.
    const watcher = await connectMqtt(`mqtt://127.0.0.1:${bridge!.info.mqttPort}`, { username: m.userId, password: m.key, clean: true });
    await watcher.client.subscribeAsync(m.topic('license'), { qos: 1 });
    const answer = (await waitFor('the answer to our request', () => watcher.on(m.topic('license'))[0])) as LicenseMessage;
    await watcher.end();
    expect(answer).toMatchObject({ ok: false, reason: 'not_available', request_id: expect.stringMatching(new RegExp(`^${m.assetId}-`)) });
    expect(daemon!.license.verdict).toMatchObject({ ok: true, source: 'offline' });
    const first = await pay(m, ADMIN_TOKEN);
    await waitFor('vend', () => relay.ons === 1);

    // The license server revokes: the bridge re-sends the retained answer.
    const revoked: LicenseMessage = { request_id: 'boot', ok: false, reason: 'revoked', message: 'chargeback' };
    await bridge!.bridge.broker!.publish(assetTopic(m.userId, m.assetId, 'license'), JSON.stringify(revoked), { qos: 1, retain: true });
    await waitFor('vending stopped', () => !daemon!.license.allowed);
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

  it('a key that fails the offline check stops vending from the start', async () => {
    const { m, relay, captured } = await start(issue({ expiresAt: 1_000 }));
    expect(daemon!.license.verdict).toMatchObject({ ok: false, reason: 'expired' });
    expect(captured.find('display: License expired - vending stopped')).toHaveLength(1);
    const paymentId = await pay(m, ADMIN_TOKEN);
    await waitFor('refusal reported', async () => (await allEvents(m)).some((e: any) => e.type === 'error' && e.data?.payment_id === paymentId));
    expect(relay.ons).toBe(0);
  });
});
