/**
 * A vendor whose wallet is a Lightning address (the `lnaddress` proxy backend) against the stand-in
 * LUD-16 service: the purchase invoice commits to the remote service's metadata (a validating wallet
 * accepts it), the service's LUD-21 verify settles it, and the license is issued; a price outside the
 * remote's amounts is refused before any invoice.
 */
import bolt11 from 'bolt11';
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ADMIN_TOKEN, startBridge, type TestBridge } from '../helpers/bridge.js';
import { until } from '../helpers/receiver.js';
import { startLnurlService, type LnurlService } from '../lightning/fakes/lnurl-service.js';

const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
let fake: LnurlService;
let t: TestBridge;

beforeAll(async () => {
  fake = await startLnurlService();
  t = await startBridge({ LICENSE_VENDOR_ACCOUNT: 'addr-vendor', LIGHTNING_POLL_MS: 50 });
  const address = fake.addUser('vendor', { minSendable: 1_000, maxSendable: 100_000_000 });
  const vendor = await t.signup('addr-vendor', { lightning_address: address });
  expect((await t.request('PUT', '/api/v1/accounts/me/wallet', { token: vendor.key, body: { backend: 'lnaddress' } })).status).toBe(200);
  for (const [slug, price_sats] of [
    ['cheap', 2_100],
    ['too-dear', 500_000],
  ] as const) {
    expect((await t.request('POST', '/license/v1/admin/products', { headers: admin, body: { slug, name: slug, price_sats } })).status).toBe(201);
  }
});
afterAll(async () => {
  await t?.close();
  await fake?.close();
});

it("invoices through the vendor's Lightning address and issues the license when its service says paid", async () => {
  const started = await t.request('POST', '/license/v1/purchase', { body: { product: 'cheap' } });
  expect(started.status).toBe(200);
  const decoded = bolt11.decode(started.body.payment_request);
  expect(decoded.satoshis).toBe(2_100);
  const metadata = fake.users.get('vendor')?.metadata as string;
  const hashTag = decoded.tags.find((tag) => tag.tagName === 'purpose_commit_hash')?.data;
  expect(hashTag).toBe(createHash('sha256').update(metadata, 'utf8').digest('hex'));
  expect((await t.request('GET', `/license/v1/purchase/${started.body.invoice_id}`)).body.status).toBe('pending');
  fake.pay(decoded.tags.find((tag) => tag.tagName === 'payment_hash')?.data as string);
  const settled = await until(async () => {
    const res = await t.request('GET', `/license/v1/purchase/${started.body.invoice_id}`);
    return res.body.status === 'settled' ? res.body : undefined;
  });
  expect(settled).toMatchObject({ license_key: expect.stringMatching(/^LIC1-/), license_id: expect.any(String) });
});

it("a price outside the remote's amounts is refused before any invoice", async () => {
  const callbacks = fake.requests.filter((r) => r.path.includes('callback')).length;
  const res = await t.request('POST', '/license/v1/purchase', { body: { product: 'too-dear' } });
  expect(res.status).toBe(503);
  expect(res.body).toMatchObject({ ok: false, message: expect.stringContaining('500000 sats') });
  expect(fake.requests.filter((r) => r.path.includes('callback')).length).toBe(callbacks);
});
