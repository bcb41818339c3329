/**
 * The LightningStore contract on both engines: links (one per asset, one per name), payments and
 * their paging, the settlement unit of work (payment, `paid` event, deliveries; exactly once, also
 * under concurrency), the MQTT outbox, wallets by BTCPay store, the dev node's invoices.
 */
import { describe, expect, it } from 'vitest';
import type { DevInvoiceRecord, PaymentLinkRecord, PaymentRecord, WalletRecord } from '../../bridge/lightning/types.js';
import type { DeliveryRecord, EventRecord } from '../../bridge/machines/types.js';
import { journalEngine, postgresEngine, type Engine } from './engines.js';

const T0 = '2026-01-01T00:00:00.000Z';
const T1 = '2026-01-01T00:05:00.000Z';
const hash = (n: number): string => n.toString(16).padStart(64, '0');

const link = (id: string, userId: string, assetId: string, name: string, extra: Partial<PaymentLinkRecord> = {}): PaymentLinkRecord => ({
  link_id: id,
  user_id: userId,
  asset_id: assetId,
  name,
  primary: false,
  comment_allowed: 140,
  success_message: 'Thanks',
  created: T0,
  updated: T0,
  ...extra,
});

const payment = (id: string, n: number, extra: Partial<PaymentRecord> = {}): Omit<PaymentRecord, 'seq'> => ({
  payment_id: id,
  user_id: 'u1',
  asset_id: 'a1',
  link_id: 'l1',
  amount_sats: 21,
  duration_ms: 1000,
  payment_hash: hash(n),
  pr: `lnbcrt210n1${id}`,
  status: 'pending',
  rail: 'lightning',
  backend: 'dev',
  backend_ref: null,
  wallet_version: 'server:dev',
  comment: null,
  preimage: null,
  expires_at: T1,
  created: T0,
  settled_at: null,
  event_id: null,
  device_acked_at: null,
  ...extra,
});

const paid = (id: string, p: { user_id: string; asset_id: string | null; payment_hash: string }): Omit<EventRecord, 'seq'> => ({
  event_id: id,
  user_id: p.user_id,
  type: 'paid',
  asset_id: p.asset_id,
  external_id: `lightning:${p.payment_hash}`,
  data: { amount_sats: 21 },
  source: 'lightning',
  created: T1,
});

const delivery = (id: string, eventId: string): Omit<DeliveryRecord, 'seq'> => ({
  delivery_id: id,
  user_id: 'u1',
  event_id: eventId,
  event_type: 'paid',
  status: 'pending',
  attempts: [],
  next_attempt_at: T1,
  created: T1,
  updated: T1,
});

const wallet = (userId: string, backend: WalletRecord['backend'], settings: Record<string, string>): WalletRecord => ({
  user_id: userId,
  backend,
  settings,
  secrets_sealed: 'c2VhbGVk',
  created: T0,
  updated: T0,
});

function describeLightningStore(engine: Engine): void {
  describe(`LightningStore contract: ${engine.name}`, () => {
    it('keeps one link per asset and per name, in order, with a primary', async () => {
      const h = await engine.open();
      const s = h.lightning;
      expect(await s.putLink(link('l1', 'u1', 'a1', 'bob.coffee'))).toBe('stored');
      expect(await s.putLink(link('l2', 'u1', 'a2', 'bob.tea', { primary: true }))).toBe('stored');
      expect(await s.putLink(link('l3', 'u1', 'a3', 'bob.coffee'))).toBe('name_taken');
      expect(await s.putLink(link('l4', 'u1', 'a1', 'bob.other'))).toBe('asset_linked');
      expect(await s.getLink('l3')).toBeUndefined();
      expect(await s.getLink('l4')).toBeUndefined();
      expect(await s.getLink('l1')).toEqual(link('l1', 'u1', 'a1', 'bob.coffee'));
      expect((await s.getLinkByAsset('a2'))?.link_id).toBe('l2');
      expect((await s.getLinkByName('bob.tea'))?.link_id).toBe('l2');
      expect((await s.getPrimaryLink('u1'))?.link_id).toBe('l2');
      // Updating a link (renaming it) keeps its place and frees its old name.
      expect(await s.putLink(link('l1', 'u1', 'a1', 'bob.espresso', { updated: T1 }))).toBe('stored');
      expect(await s.getLinkByName('bob.coffee')).toBeUndefined();
      expect(await s.putLink(link('l3', 'u1', 'a3', 'bob.coffee'))).toBe('stored');
      expect((await s.listLinks('u1')).map((l) => [l.link_id, l.name])).toEqual([
        ['l1', 'bob.espresso'],
        ['l2', 'bob.tea'],
        ['l3', 'bob.coffee'],
      ]);
      await s.putLink(link('l2', 'u1', 'a2', 'bob.tea', { primary: false }));
      expect((await s.getPrimaryLink('u1'))?.link_id).toBe('l1');
      expect(await s.getPrimaryLink('nobody')).toBeUndefined();
      await h.close();
    });

    it('lets one of 10 concurrent links for one asset in', async () => {
      const h = await engine.open();
      const results = await Promise.all(Array.from({ length: 10 }, (_, i) => h.lightning.putLink(link(`l${i}`, 'u1', 'a1', `bob.n${i}`))));
      expect(results.filter((r) => r === 'stored')).toHaveLength(1);
      expect(results.filter((r) => r === 'asset_linked')).toHaveLength(9);
      expect(await h.lightning.listLinks('u1')).toHaveLength(1);
      await h.close();
    });

    it('creates payments with increasing seq, unique hashes, and pages them by asset', async () => {
      const h = await engine.open();
      const s = h.lightning;
      const made: PaymentRecord[] = [];
      for (let i = 0; i < 6; i++) made.push(await s.createPayment(payment(`p${i}`, i, { asset_id: i === 5 ? 'a2' : 'a1', comment: i === 0 ? 'hi' : null })));
      for (let i = 1; i < made.length; i++) expect((made[i] as PaymentRecord).seq).toBeGreaterThan((made[i - 1] as PaymentRecord).seq);
      expect(await s.getPayment('p0')).toEqual(made[0]);
      expect(await s.getPaymentByHash(hash(1))).toEqual(made[1]);
      expect(await s.getPayment('nope')).toBeUndefined();
      await expect(s.createPayment(payment('dup', 1))).rejects.toThrow();
      expect(await s.getPayment('dup')).toBeUndefined();
      expect(await s.expirePayment(hash(2))).toBe(true);
      expect(await s.expirePayment(hash(2))).toBe(false);
      expect(await s.expirePayment(hash(99))).toBe(false);
      const page = await s.listPayments('a1', { limit: 2 });
      expect(page.items.map((p) => p.payment_id)).toEqual(['p4', 'p3']);
      const rest = await s.listPayments('a1', { limit: 5, before: page.next as number });
      expect([rest.items.map((p) => p.payment_id), rest.next]).toEqual([['p2', 'p1', 'p0'], null]);
      expect((await s.listPayments('a1', { limit: 10 }, 'expired')).items.map((p) => p.payment_id)).toEqual(['p2']);
      expect((await s.pendingPayments()).map((p) => p.payment_id)).toEqual(['p0', 'p1', 'p3', 'p4', 'p5']);
      await h.close();
    });

    it('settles a payment once, with its event and deliveries, visible before it resolves', async () => {
      const h = await engine.open();
      const s = h.lightning;
      const p = await s.createPayment(payment('p1', 1));
      const seen: [PaymentRecord, EventRecord][] = [];
      let resolved = false;
      const settling = s.settlePayment(p.payment_hash, T1, 'ab'.repeat(32), paid('e1', p), [delivery('d1', 'e1')], (sp, e) => {
        expect(resolved).toBe(false);
        seen.push([sp, e]);
      });
      const result = await settling;
      resolved = true;
      if (!('settled' in result)) throw new Error('not settled');
      const settled = { ...p, status: 'settled' as const, settled_at: T1, preimage: 'ab'.repeat(32), event_id: 'e1' };
      expect(result.settled).toEqual(settled);
      expect(result.event).toEqual({ ...paid('e1', p), seq: result.event.seq });
      expect(seen).toEqual([[settled, result.event]]);
      expect(await s.getPayment('p1')).toEqual(settled);
      expect(await h.machines.getEvent('e1')).toEqual(result.event);
      expect((await h.machines.pendingDeliveries()).map((d) => d.delivery_id)).toEqual(['d1']);
      await s.durable();
      const again = await s.settlePayment(p.payment_hash, T1, null, paid('e2', p), [delivery('d2', 'e2')], () => seen.push([p as PaymentRecord, result.event]));
      expect(again).toEqual({ already: settled });
      expect(seen).toHaveLength(1);
      expect(await h.machines.getEvent('e2')).toBeUndefined();
      expect(await s.settlePayment(hash(77), T1, null, paid('e3', { ...p, payment_hash: hash(77) }), [], () => seen.push([p, result.event]))).toEqual({
        missing: true,
      });
      expect(await h.machines.getEvent('e3')).toBeUndefined();
      await h.close();
    });

    it('settles one of 10 concurrent settlements of one invoice: one payment, one event, one message', async () => {
      const h = await engine.open();
      const p = await h.lightning.createPayment(payment('p1', 1));
      const messages: string[] = [];
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          h.lightning.settlePayment(p.payment_hash, T1, null, paid(`e${i}`, p), [delivery(`d${i}`, `e${i}`)], (sp) => messages.push(sp.payment_id)),
        ),
      );
      expect(results.filter((r) => 'settled' in r)).toHaveLength(1);
      expect(results.filter((r) => 'already' in r)).toHaveLength(9);
      expect(messages).toEqual(['p1']);
      const events = (await h.machines.listEvents('u1', {}, { limit: 100 })).items;
      expect(events).toHaveLength(1);
      expect((await h.lightning.getPayment('p1'))?.event_id).toBe(events[0]?.event_id);
      expect((await h.machines.pendingDeliveries()).map((d) => d.event_id)).toEqual([events[0]?.event_id]);
      await h.close();
    });

    it('keeps settled payments in the outbox until a device acknowledges them', async () => {
      const h = await engine.open();
      const s = h.lightning;
      const a = await s.createPayment(payment('pa', 1));
      const b = await s.createPayment(payment('pb', 2, { asset_id: 'a2' }));
      await s.createPayment(payment('pc', 3));
      for (const [p, e] of [
        [a, 'ea'],
        [b, 'eb'],
      ] as const)
        await s.settlePayment(p.payment_hash, T1, null, paid(e, p), []);
      expect((await s.undeliveredPayments('u1')).map((p) => p.payment_id)).toEqual(['pa', 'pb']);
      expect((await s.undeliveredPayments('u1', 'a2')).map((p) => p.payment_id)).toEqual(['pb']);
      expect(await s.undeliveredPayments('u2', 'a2')).toEqual([]);
      expect(await s.markDelivered('pc', T1)).toBe(false);
      expect(await s.markDelivered('pa', T1)).toBe(true);
      expect(await s.markDelivered('pa', '2027-01-01T00:00:00.000Z')).toBe(false);
      expect((await s.getPayment('pa'))?.device_acked_at).toBe(T1);
      expect((await s.undeliveredPayments('u1')).map((p) => p.payment_id)).toEqual(['pb']);
      expect(await s.undeliveredPayments('u1', 'a1')).toEqual([]);
      await h.close();
    });

    it('keeps x402 payments and purchases that run no machine, the latter out of the outbox', async () => {
      const h = await engine.open();
      const s = h.lightning;
      const facts = {
        network: 'eip155:84532',
        asset: '0x' + 'a'.repeat(40),
        amount: '10000',
        payer: '0x' + 'b'.repeat(40),
        transaction: '0x' + 'c'.repeat(64),
      };
      const x = await s.createPayment(payment('px', 1, { rail: 'x402', backend: 'evm', pr: '', link_id: '', amount_sats: 0, x402: facts }));
      const purchase = { kind: 'license' as const, product_id: 'prod1', purchase_id: 'pur1' };
      const l = await s.createPayment(payment('pl', 2, { asset_id: null, link_id: '', purchase }));
      // One recorded before its transfer was sent: its facts are completed when it settles.
      const waiting = { ...facts, transaction: '', nonce: '0x' + 'd'.repeat(64) };
      const w = await s.createPayment(payment('pw', 3, { rail: 'x402', backend: 'evm', pr: '', link_id: '', amount_sats: 0, x402: waiting }));
      for (const [p, e] of [
        [x, 'ex'],
        [l, 'el'],
      ] as const)
        await s.settlePayment(p.payment_hash, T1, null, paid(e, p), []);
      await s.settlePayment(w.payment_hash, T1, null, paid('ew', w), [], undefined, { x402: { ...waiting, transaction: facts.transaction } });
      const reopened = (await h.reopen()).lightning;
      expect((await reopened.getPayment('px'))?.x402).toEqual(facts);
      expect((await reopened.getPayment('pw'))?.x402).toEqual({ ...waiting, transaction: facts.transaction });
      expect((await reopened.getPayment('pl'))?.purchase).toEqual(purchase);
      expect((await reopened.getPayment('pl'))?.asset_id).toBeNull();
      expect((await reopened.getPayment('pl'))?.status).toBe('settled');
      // The x402 payment runs its machine: it waits for a device; the license purchase never does.
      expect((await reopened.undeliveredPayments('u1')).map((p) => p.payment_id)).toEqual(['px', 'pw']);
      expect(await reopened.outboxDepth?.()).toBe(2);
      await h.close();
    });

    it('finds wallets by BTCPay store as they change, and keeps dev invoices', async () => {
      const h = await engine.open();
      const s = h.lightning;
      const w1 = wallet('u1', 'btcpay', { url: 'https://btcpay.example', store_id: 'S1' });
      await s.putWallet(w1);
      await s.putWallet(wallet('u2', 'btcpay', { url: 'https://btcpay.example', store_id: 'S1' }));
      await s.putWallet(wallet('u3', 'lnbits', { url: 'https://lnbits.example', store_id: 'S1' }));
      expect(await s.getWallet('u1')).toEqual(w1);
      expect((await s.btcpayWallets('S1')).map((w) => w.user_id).sort()).toEqual(['u1', 'u2']);
      await s.putWallet(wallet('u2', 'btcpay', { url: 'https://btcpay.example', store_id: 'S2' }));
      await s.deleteWallet('u1');
      await s.deleteWallet('u1');
      expect(await s.getWallet('u1')).toBeUndefined();
      expect(await s.btcpayWallets('S1')).toEqual([]);
      expect((await s.btcpayWallets('S2')).map((w) => w.user_id)).toEqual(['u2']);
      const inv: DevInvoiceRecord = { payment_hash: hash(5), preimage: 'cd'.repeat(32), amount_msat: 5_000_000_000_000, expires_at: T1, settled_at: null };
      await s.putDevInvoice(inv);
      expect(await s.getDevInvoice(hash(5))).toEqual(inv);
      await s.putDevInvoice({ ...inv, settled_at: T1 });
      expect((await s.getDevInvoice(hash(5)))?.settled_at).toBe(T1);
      expect(await s.getDevInvoice(hash(6))).toBeUndefined();
      await h.close();
    });

    it('keeps everything across a reopen', async () => {
      const h = await engine.open();
      await h.lightning.putLink(link('l1', 'u1', 'a1', 'bob.coffee', { primary: true }));
      const p = await h.lightning.createPayment(payment('p1', 1));
      await h.lightning.createPayment(payment('p2', 2));
      await h.lightning.settlePayment(p.payment_hash, T1, null, paid('e1', p), []);
      await h.lightning.putWallet(wallet('u1', 'btcpay', { store_id: 'S1' }));
      const s = (await h.reopen()).lightning;
      expect((await s.getLinkByName('bob.coffee'))?.link_id).toBe('l1');
      expect(await s.putLink(link('l9', 'u1', 'a1', 'bob.x'))).toBe('asset_linked');
      expect((await s.getPayment('p1'))?.status).toBe('settled');
      expect((await s.pendingPayments()).map((x) => x.payment_id)).toEqual(['p2']);
      expect((await s.undeliveredPayments('u1', 'a1')).map((x) => x.payment_id)).toEqual(['p1']);
      expect((await s.btcpayWallets('S1')).map((w) => w.user_id)).toEqual(['u1']);
      expect('already' in (await s.settlePayment(p.payment_hash, T1, null, paid('e2', p), []))).toBe(true);
      await h.close();
    });
  });
}

describeLightningStore(journalEngine());
describe('on PostgreSQL', () => describeLightningStore(postgresEngine()));
