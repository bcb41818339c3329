/**
 * The Lightning journal store on its own: settlePayment's payment, `paid` event and `onVisible` (which
 * tells the machine over MQTT) go together, also when the journal has failed and refuses the commit;
 * wallets are found by BTCPay store id through an index that follows every change.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PaymentRecord, WalletRecord } from '../../bridge/lightning/types.js';
import type { EventRecord } from '../../bridge/machines/types.js';
import { Journal, StoreUnavailableError } from '../../bridge/store/journal/engine.js';
import { JournalLightningStore } from '../../bridge/store/journal/lightning-store.js';
import { JournalMachinesStore } from '../../bridge/store/journal/machines-store.js';

let dir: string;
let journal: Journal;
let machines: JournalMachinesStore;
let store: JournalLightningStore;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'paywire-settle-store-'));
  journal = new Journal({ dir, fsync: false });
  machines = new JournalMachinesStore(journal);
  store = new JournalLightningStore(journal, machines);
  await journal.open();
});
afterEach(async () => {
  await journal.close().catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
});

async function pendingPayment(): Promise<PaymentRecord> {
  const now = new Date().toISOString();
  return store.createPayment({
    payment_id: `p${randomBytes(6).toString('hex')}`,
    user_id: 'u1',
    asset_id: 'a1',
    link_id: 'l1',
    amount_sats: 21,
    duration_ms: 1000,
    payment_hash: createHash('sha256').update(randomBytes(32)).digest('hex'),
    pr: 'lnbcrt210n1test',
    status: 'pending',
    rail: 'lightning',
    backend: 'dev',
    backend_ref: null,
    wallet_version: 'server:test',
    comment: null,
    preimage: null,
    expires_at: new Date(Date.now() + 600_000).toISOString(),
    created: now,
    settled_at: null,
    event_id: null,
    device_acked_at: null,
  });
}

function paidEvent(payment: PaymentRecord): Omit<EventRecord, 'seq'> {
  return {
    event_id: `e${randomBytes(6).toString('hex')}`,
    user_id: payment.user_id,
    type: 'paid',
    asset_id: payment.asset_id,
    external_id: `lightning:${payment.payment_hash}`,
    data: { payment_id: payment.payment_id },
    source: 'lightning',
    created: new Date().toISOString(),
  };
}

describe('JournalLightningStore.settlePayment', () => {
  it('calls onVisible once, before it resolves, with the settled payment and its event', async () => {
    const payment = await pendingPayment();
    const seen: [PaymentRecord, EventRecord][] = [];
    const settling = store.settlePayment(payment.payment_hash, new Date().toISOString(), null, paidEvent(payment), [], (p, e) => seen.push([p, e]));
    expect(seen).toHaveLength(1);
    const result = await settling;
    expect('settled' in result && result.settled.status).toBe('settled');
    expect(seen[0]?.[0]).toMatchObject({ payment_id: payment.payment_id, status: 'settled' });
    expect(seen[0]?.[1]).toMatchObject({ type: 'paid', external_id: `lightning:${payment.payment_hash}` });
  });

  it('does not call onVisible when the failed journal refuses the commit', async () => {
    const payment = await pendingPayment();
    // Close the file under the journal: the next write fails like a dying disk, and every later
    // commit is refused without being applied.
    await (journal as unknown as { wal: { handle: { close(): Promise<void> } } }).wal.handle.close();
    await expect(
      store.putDevInvoice({ payment_hash: 'f'.repeat(64), preimage: '0'.repeat(64), amount_msat: 1000, expires_at: payment.expires_at, settled_at: null }),
    ).rejects.toThrow();

    const seen: PaymentRecord[] = [];
    const event = paidEvent(payment);
    await expect(store.settlePayment(payment.payment_hash, new Date().toISOString(), null, event, [], (p) => seen.push(p))).rejects.toBeInstanceOf(
      StoreUnavailableError,
    );
    expect(seen).toEqual([]);
    expect((await store.getPaymentByHash(payment.payment_hash))?.status).toBe('pending');
    expect(await machines.getEvent(event.event_id)).toBeUndefined();
  });
});

describe('JournalLightningStore.btcpayWallets', () => {
  const wallet = (userId: string, backend: WalletRecord['backend'], settings: Record<string, string>): WalletRecord => ({
    user_id: userId,
    backend,
    settings,
    secrets_sealed: null,
    created: 't',
    updated: 't',
  });
  const owners = async (storeId: string) => (await store.btcpayWallets(storeId)).map((w) => w.user_id).sort();

  it('finds the wallets of a store, following changes of store, of backend and removal', async () => {
    await store.putWallet(wallet('u1', 'btcpay', { url: 'https://b', store_id: 'S1' }));
    await store.putWallet(wallet('u2', 'btcpay', { url: 'https://b', store_id: 'S1' }));
    await store.putWallet(wallet('u3', 'lnbits', { url: 'https://l', store_id: 'S1' }));
    expect(await owners('S1')).toEqual(['u1', 'u2']);
    await store.putWallet(wallet('u2', 'btcpay', { url: 'https://b', store_id: 'S2' }));
    expect(await owners('S1')).toEqual(['u1']);
    expect(await owners('S2')).toEqual(['u2']);
    await store.putWallet(wallet('u1', 'lnd', { url: 'https://n' }));
    await store.deleteWallet('u2');
    expect(await owners('S1')).toEqual([]);
    expect(await owners('S2')).toEqual([]);

    // Rebuilt from the journal on open.
    await store.putWallet(wallet('u4', 'btcpay', { url: 'https://b', store_id: 'S1' }));
    await journal.close();
    journal = new Journal({ dir, fsync: false });
    machines = new JournalMachinesStore(journal);
    store = new JournalLightningStore(journal, machines);
    await journal.open();
    expect(await owners('S1')).toEqual(['u4']);
    expect((await store.btcpayWallets('S1'))[0]?.settings).toEqual({ url: 'https://b', store_id: 'S1' });
  });
});
