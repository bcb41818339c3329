/**
 * A crash between a purchase's settlement and its license: the settlement (payment and `paid` event,
 * written in one step) is on disk, the license is not. The restarted bridge issues it on start, before
 * anyone polls, exactly once; the poll then hands out that license.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import bolt11 from 'bolt11';
import { afterAll, expect, it } from 'vitest';
import { loadConfig } from '../../bridge/config.js';
import { newId } from '../../bridge/ids.js';
import { createLogger } from '../../bridge/log.js';
import { openStores } from '../../bridge/store/stores.js';
import { ADMIN_TOKEN, startBridge, testDatabaseUrl } from '../helpers/bridge.js';
import { TEST_ENGINE } from '../helpers/pg.js';
import { until } from '../helpers/receiver.js';

const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
let dir: string | undefined;
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

it('the restarted bridge issues the license of a purchase settled before the crash', async () => {
  dir = await mkdtemp(join(tmpdir(), 'paywire-purchase-crash-'));
  const settings = { LICENSE_VENDOR_ACCOUNT: 'vendor', LIGHTNING_POLL_MS: 50 };
  const first = await startBridge(settings, { dataDir: dir });
  const vendor = await first.signup('vendor');
  const product = await first.request('POST', '/license/v1/admin/products', { headers: admin, body: { slug: 'crashy', name: 'Crashy', price_sats: 777 } });
  const productId = product.body.product_id as string;
  const started = await first.request('POST', '/license/v1/purchase', { body: { product: 'crashy' } });
  const id = started.body.invoice_id as string;
  const hash = bolt11.decode(started.body.payment_request).tags.find((tag) => tag.tagName === 'payment_hash')?.data as string;
  await first.stop();

  // What a settlement leaves on disk when the process dies before the license is issued.
  const overrides: Record<string, unknown> = { DATA_DIR: dir, LOG_LEVEL: 'silent', ADMIN_TOKEN };
  if (TEST_ENGINE === 'postgres') overrides['DATABASE_URL'] = await testDatabaseUrl(dir);
  const config = loadConfig({ env: {}, overrides });
  const stores = await openStores(config, createLogger('silent'));
  const now = new Date().toISOString();
  const payment = await stores.lightning.getPayment(id);
  expect(payment).toMatchObject({ status: 'pending', asset_id: null, purchase: { kind: 'license', product_id: productId } });
  const result = await stores.lightning.settlePayment(
    hash,
    now,
    null,
    {
      event_id: newId(),
      user_id: vendor.userId,
      type: 'paid',
      asset_id: null,
      external_id: `lightning:${hash}`,
      data: { payment_id: id, amount_sats: 777, rail: 'lightning', purchase: payment?.purchase },
      source: 'license',
      created: now,
    },
    [],
  );
  expect('settled' in result).toBe(true);
  await stores.lightning.durable();
  expect(await stores.license.getLicenseByInvoice(id)).toBeUndefined();
  await stores.close();

  const second = await startBridge(settings, { dataDir: dir });
  try {
    // Issued by the start itself: nobody has polled yet.
    const list = await until(async () => {
      const res = await second.request('GET', `/license/v1/admin/licenses?product_id=${productId}`, { headers: admin });
      const items = (Array.isArray(res.body) ? res.body : res.body.licenses) as any[];
      return items.length > 0 ? items : undefined;
    });
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({ invoice_id: id });
    const polled = await second.request('GET', `/license/v1/purchase/${id}`);
    expect(polled.body).toMatchObject({ status: 'settled', license_id: list[0].license_id, license_key: expect.stringMatching(/^LIC1-/) });
    const validated = await second.request('POST', '/license/v1/validate', { body: { key: polled.body.license_key } });
    expect(validated.body).toMatchObject({ ok: true, license_id: list[0].license_id });
  } finally {
    await second.stop();
  }
});
