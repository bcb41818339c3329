/**
 * `paywire migrate --from-journal DATA_DIR --to DATABASE_URL` (the real CLI in a child process):
 * everything a journal store holds reads back the same through every store interface on PostgreSQL,
 * seqs and list orders included; the database then carries on (new seqs after the copied ones,
 * uniqueness kept) and a second copy into a non-empty database is refused.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PaymentLinkRecord, PaymentRecord } from '../../bridge/lightning/types.js';
import type { AccountRecord, AssetRecord, DeliveryRecord, EventRecord } from '../../bridge/machines/types.js';
import { JournalDevicesStore } from '../../bridge/store/journal/devices-store.js';
import { Journal } from '../../bridge/store/journal/engine.js';
import { JournalLightningStore } from '../../bridge/store/journal/lightning-store.js';
import { JournalMachinesStore } from '../../bridge/store/journal/machines-store.js';
import { openPostgres } from '../../bridge/store/postgres/engine.js';
import { createTestDatabase, type TestDatabase } from '../helpers/pg.js';
import { ROOT } from '../helpers/process.js';
import type { EngineStores } from './engines.js';

const run = promisify(execFile);
const T = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s)).toISOString();
const hash = (n: number) => n.toString(16).padStart(64, '0');

let db: TestDatabase;
let dir: string;
beforeAll(async () => {
  db = await createTestDatabase();
  dir = await mkdtemp(join(tmpdir(), 'paywire-migrate-'));
});
afterAll(async () => {
  await db?.drop();
  await rm(dir, { recursive: true, force: true });
});

/** A store with a bit of everything, written through the interfaces. */
async function fill(s: EngineStores): Promise<void> {
  const acct = (id: string, username: string) => ({
    user_id: id,
    username,
    display_name: username,
    lightning_address: id === 'u1' ? 'a@b.c' : null,
    role: 'machine' as const,
    created: T(0),
    updated: T(1),
  });
  const key = (id: string, userId: string) => ({
    key_id: id,
    user_id: userId,
    hash: `h-${id}`,
    prefix: 'lib_00000000',
    scope: 'full' as const,
    label: null,
    created: T(0),
    revoked_at: null,
  });
  await s.machines.createAccount(acct('u1', 'alice'), key('k1', 'u1'));
  await s.machines.createAccount(acct('u2', 'bob'), key('k2', 'u2'));
  await s.machines.addKey({ ...key('k3', 'u1'), scope: 'read', label: 'ro' });
  await s.machines.rotateKey('k1', key('k4', 'u1'), T(5));
  const asset = (id: string, userId: string) => ({
    asset_id: id,
    user_id: userId,
    name: `Vend ${id}`,
    price_sats: 100,
    duration_ms: 2000,
    pricing: 'fixed' as const,
    min_sats: null,
    max_sats: null,
    refuse_when_offline: false,
    metadata: { where: id },
    x402: null,
    created: T(0),
    updated: T(0),
    deleted_at: null,
  });
  for (const [id, user] of [
    ['a1', 'u1'],
    ['a2', 'u1'],
    ['a3', 'u2'],
  ] as const)
    await s.machines.putAsset(asset(id, user));
  await s.machines.putAsset({ ...asset('a2', 'u1'), deleted_at: T(9) });
  await s.machines.putWebhook({ user_id: 'u1', url: 'https://example.com/h', events: ['paid'], disabled_at: null, created: T(0), updated: T(0) });
  const delivery = (id: string, eventId: string): Omit<DeliveryRecord, 'seq'> => ({
    delivery_id: id,
    user_id: 'u1',
    event_id: eventId,
    event_type: 'action',
    status: 'pending',
    attempts: [],
    next_attempt_at: T(3),
    created: T(3),
    updated: T(3),
  });
  for (let i = 0; i < 30; i++) {
    const e: Omit<EventRecord, 'seq'> = {
      event_id: `e${i}`,
      user_id: i % 3 ? 'u1' : 'u2',
      type: i % 2 ? 'action' : 'custom',
      asset_id: i % 4 ? 'a1' : null,
      external_id: i % 5 ? null : `x${i}`,
      data: { i },
      source: 'api',
      created: T(i),
    };
    await s.machines.appendEvent(e, i % 3 ? [delivery(`d${i}`, `e${i}`)] : []);
  }
  const d1 = (await s.machines.getDelivery('d1')) as DeliveryRecord;
  await s.machines.putDelivery({ ...d1, status: 'delivered', attempts: [{ at: T(4), status_code: 200, error: null, duration_ms: 5 }], next_attempt_at: null });
  const link = (id: string, userId: string, assetId: string, primary: boolean) => ({
    link_id: id,
    user_id: userId,
    asset_id: assetId,
    name: `${userId}.${assetId}`,
    primary,
    comment_allowed: 0,
    success_message: 'ok',
    created: T(0),
    updated: T(0),
  });
  await s.lightning.putLink(link('l1', 'u1', 'a1', true));
  await s.lightning.putLink(link('l2', 'u1', 'a2', false));
  await s.lightning.putLink(link('l3', 'u2', 'a3', true));
  const payment = (id: string, n: number): Omit<PaymentRecord, 'seq'> => ({
    payment_id: id,
    user_id: 'u1',
    asset_id: 'a1',
    link_id: 'l1',
    amount_sats: 100,
    duration_ms: 2000,
    payment_hash: hash(n),
    pr: `lnbcrt1${id}`,
    status: 'pending',
    rail: 'lightning',
    backend: 'dev',
    backend_ref: null,
    wallet_version: 'server:dev',
    comment: n === 1 ? 'thanks' : null,
    preimage: null,
    expires_at: T(50),
    created: T(n),
    settled_at: null,
    event_id: null,
    device_acked_at: null,
  });
  for (let n = 1; n <= 5; n++) await s.lightning.createPayment(payment(`p${n}`, n));
  for (const n of [1, 2]) {
    await s.lightning.settlePayment(
      hash(n),
      T(20 + n),
      'ab'.repeat(32),
      {
        event_id: `paid${n}`,
        user_id: 'u1',
        type: 'paid',
        asset_id: 'a1',
        external_id: `lightning:${hash(n)}`,
        data: { payment_id: `p${n}` },
        source: 'lightning',
        created: T(20 + n),
      },
      [delivery(`dp${n}`, `paid${n}`)],
    );
  }
  await s.lightning.markDelivered('p2', T(30));
  await s.lightning.expirePayment(hash(3));
  await s.lightning.putWallet({
    user_id: 'u1',
    backend: 'btcpay',
    settings: { url: 'https://pay.example', store_id: 'S1' },
    secrets_sealed: 'c2VhbGVk',
    created: T(0),
    updated: T(0),
  });
  await s.lightning.putDevInvoice({ payment_hash: hash(1), preimage: 'ab'.repeat(32), amount_msat: 100_000, expires_at: T(50), settled_at: T(21) });
  const cred = (id: string, revoked: string | null) => ({
    credential_id: id,
    user_id: 'u1',
    asset_id: 'a1',
    hash: `ch-${id}`,
    label: null,
    created: T(0),
    revoked_at: revoked,
  });
  await s.devices.putCredential(cred('c1', null));
  await s.devices.putCredential(cred('c2', T(7)));
  await s.devices.putState({ asset_id: 'a1', user_id: 'u1', online: true, last_seen: T(8) });
}

/** Everything the interfaces can tell about the store above. */
async function readAll(s: EngineStores): Promise<Record<string, unknown>> {
  const m = s.machines;
  const l = s.lightning;
  const pages = async <T>(page: (before?: number) => Promise<{ items: T[]; next: number | null }>) => {
    const out: T[][] = [];
    let before: number | undefined;
    do {
      const p = await page(before);
      out.push(p.items);
      before = p.next ?? undefined;
    } while (before !== undefined);
    return out;
  };
  return {
    accounts: [await m.getAccount('u1'), await m.getAccount('u2'), await m.getAccountByUsername('bob'), await m.usernameTaken('alice')],
    keys: [await m.listKeys('u1'), await m.listKeys('u2'), await m.findKeyByHash('h-k4'), await m.getKey('k1')],
    assets: [await m.listAssets('u1'), await m.listAssets('u2'), await m.getAsset('a2'), (await m.listAllAssets()).map((a) => a.asset_id).sort()],
    events: await pages((before) => m.listEvents('u1', {}, before === undefined ? { limit: 7 } : { limit: 7, before })),
    eventsU2: await pages((before) => m.listEvents('u2', {}, before === undefined ? { limit: 4 } : { limit: 4, before })),
    filtered: [
      await m.listEvents('u1', { type: 'custom' }, { limit: 50 }),
      await m.listEvents('u1', { asset_id: 'a1' }, { limit: 50 }),
      await m.listEvents('u1', { since: T(15) }, { limit: 50 }),
      await m.getEvent('paid1'),
    ],
    webhook: await m.getWebhook('u1'),
    deliveries: [
      await pages((before) => m.listDeliveries('u1', before === undefined ? { limit: 6 } : { limit: 6, before })),
      await m.pendingDeliveries(),
      await m.getDelivery('d1'),
    ],
    links: [await l.listLinks('u1'), await l.getPrimaryLink('u2'), await l.getLinkByName('u1.a2'), await l.getLinkByAsset('a3'), await l.getLink('l1')],
    payments: [
      await pages((before) => l.listPayments('a1', before === undefined ? { limit: 2 } : { limit: 2, before })),
      await l.listPayments('a1', { limit: 10 }, 'settled'),
      await l.pendingPayments(),
      await l.undeliveredPayments('u1'),
      await l.undeliveredPayments('u1', 'a1'),
      await l.getPaymentByHash(hash(3)),
    ],
    wallets: [await l.getWallet('u1'), await l.btcpayWallets('S1'), await l.getDevInvoice(hash(1))],
    devices: [await s.devices.listCredentials('a1'), await s.devices.getCredential('c2'), await s.devices.getState('a1')],
  };
}

const cli = (...args: string[]) =>
  run(process.execPath, ['--import', 'tsx', 'bridge/cli.ts', 'migrate', ...args], { cwd: ROOT, env: { PATH: process.env['PATH'] ?? '' } });

describe('paywire migrate --from-journal', () => {
  it('copies a journal store into PostgreSQL, where everything reads back the same', async () => {
    let journal = new Journal({ dir });
    let machines = new JournalMachinesStore(journal);
    let stores: EngineStores = { machines, lightning: new JournalLightningStore(journal, machines), devices: new JournalDevicesStore(journal) };
    await journal.open();
    await fill(stores);
    await journal.compact(); // half in the snapshot, half in the log
    await stores.machines.appendEvent(
      { event_id: 'late', user_id: 'u1', type: 'error', asset_id: null, external_id: 'late', data: null, source: 'mqtt', created: T(40) },
      [],
    );
    await journal.close();

    const url = await db.schemaUrl();
    const { stdout } = await cli('--from-journal', dir, '--to', url);
    expect(stdout).toMatch(
      /^copied 2 accounts, 4 api_keys, 3 assets, 33 events, 1 webhooks, 22 webhook_deliveries, 3 payment_links, 5 payments, 1 wallets, 1 dev_invoices, 2 device_credentials, 1 asset_states(, 0 x402_[a-z_]+)*, 0 license_products, 0 licenses, 0 license_machines from /,
    );

    journal = new Journal({ dir });
    machines = new JournalMachinesStore(journal);
    stores = { machines, lightning: new JournalLightningStore(journal, machines), devices: new JournalDevicesStore(journal) };
    await journal.open();
    const pg = await openPostgres({ url, poolSize: 2 });
    try {
      const expected = await readAll(stores);
      expect(await readAll(pg)).toEqual(expected);

      // The database carries on from there: later seqs, the same uniqueness.
      const maxEvent = Math.max(
        ...(await pg.machines.listEvents('u1', {}, { limit: 1 })).items.map((e) => e.seq),
        ...(await pg.machines.listEvents('u2', {}, { limit: 1 })).items.map((e) => e.seq),
      );
      const next = await pg.machines.appendEvent(
        { event_id: 'new', user_id: 'u1', type: 'action', asset_id: null, external_id: null, data: null, source: 'api', created: T(60) },
        [],
      );
      expect('stored' in next && next.stored.seq).toBeGreaterThan(maxEvent);
      expect(
        'duplicate' in
          (await pg.machines.appendEvent(
            { event_id: 'dup', user_id: 'u1', type: 'action', asset_id: null, external_id: 'late', data: null, source: 'api', created: T(60) },
            [],
          )),
      ).toBe(true);
      const p6 = await pg.lightning.createPayment({ ...((await pg.lightning.getPayment('p5')) as PaymentRecord), payment_id: 'p6', payment_hash: hash(6) });
      expect(p6.seq).toBeGreaterThan(((await pg.lightning.getPayment('p5')) as PaymentRecord).seq);
      expect(
        await pg.machines.createAccount(
          { ...((await pg.machines.getAccount('u1')) as AccountRecord), user_id: 'u9' },
          { key_id: 'k9', user_id: 'u9', hash: 'h9', prefix: 'lib_0', scope: 'full', label: null, created: T(0), revoked_at: null },
        ),
      ).toBe(false);
      expect(await pg.lightning.putLink({ ...((await pg.lightning.getLink('l1')) as PaymentLinkRecord), link_id: 'l9', name: 'u1.other' })).toBe(
        'asset_linked',
      );
      await pg.machines.putAsset({ ...((await pg.machines.getAsset('a1')) as AssetRecord), asset_id: 'a9' });
      expect((await pg.machines.listAssets('u1')).map((a) => a.asset_id)).toEqual(['a1', 'a9']);
    } finally {
      await pg.close();
      await journal.close();
    }

    // A second copy into the now non-empty database is refused, and changes nothing.
    const again = await cli('--from-journal', dir, '--to', url).catch((e: { code: number; stderr: string }) => e);
    expect(again).toMatchObject({ code: 1, stderr: expect.stringMatching(/^migrate failed: the target database already holds Paywire data/) });
  });

  it('refuses a directory without a journal store, and a missing target', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'paywire-migrate-empty-'));
    try {
      await expect(cli('--from-journal', empty, '--to', db.url)).rejects.toMatchObject({ code: 1, stderr: expect.stringMatching(/^no journal store in /) });
      await expect(cli('--from-journal', empty)).rejects.toMatchObject({ code: 2, stderr: expect.stringMatching(/^usage: paywire migrate/) });
    } finally {
      await rm(empty, { recursive: true, force: true });
    }
  });
});
