/**
 * A machine for MQTT tests against any listening bridge (in-process or a CLI child): an account, an
 * asset with its payment link, optional device credentials, and payments made the way a wallet does
 * (LUD-06 callback for an invoice, then the admin's dev settle). Works from a base URL only.
 */
import { Invoice } from '@getalby/lightning-tools';
import { request, type ApiResponse } from './bridge.js';

export interface Machine {
  url: string;
  userId: string;
  key: string;
  assetId: string;
  linkUrl: string;
  /** `paywire/{account}/{asset}/{kind}`. */
  topic(kind: string): string;
}

export interface DeviceLogin {
  credentialId: string;
  username: string;
  password: string;
}

function expectStatus(res: ApiResponse, status: number, what: string): void {
  if (res.status !== status) throw new Error(`${what}: expected ${status}, got ${res.status} ${res.text}`);
}

/** Sign up an account and give it one asset with a payment link. */
export async function createMachine(url: string, name = 'Vend', asset: Record<string, unknown> = {}): Promise<Machine> {
  const signup = await request(url, 'POST', '/api/v1/accounts', { body: { label: `mqtt-${name.toLowerCase().replace(/[^a-z0-9]+/g, '-')}` } });
  expectStatus(signup, 201, 'signup');
  const key = signup.body.api_key as string;
  const userId = signup.body.user_id as string;
  const created = await request(url, 'POST', '/api/v1/assets', { token: key, body: { name, price_sats: 10, duration_ms: 1000, ...asset } });
  expectStatus(created, 201, 'create asset');
  const assetId = created.body.asset_id as string;
  const link = await request(url, 'POST', `/api/v1/assets/${assetId}/payment-link`, { token: key });
  expectStatus(link, 201, 'payment link');
  return { url, userId, key, assetId, linkUrl: link.body.url as string, topic: (kind) => `paywire/${userId}/${assetId}/${kind}` };
}

/** Another asset (with its payment link) under the same account. */
export async function addAsset(m: Machine, name: string): Promise<Machine> {
  const created = await request(m.url, 'POST', '/api/v1/assets', { token: m.key, body: { name, price_sats: 10, duration_ms: 1000 } });
  expectStatus(created, 201, 'create asset');
  const assetId = created.body.asset_id as string;
  const link = await request(m.url, 'POST', `/api/v1/assets/${assetId}/payment-link`, { token: m.key });
  expectStatus(link, 201, 'payment link');
  return { ...m, assetId, linkUrl: link.body.url as string, topic: (kind) => `paywire/${m.userId}/${assetId}/${kind}` };
}

/** Issue a device credential for the machine's asset. */
export async function deviceLogin(m: Machine, label = 'test device'): Promise<DeviceLogin> {
  const res = await request(m.url, 'POST', `/api/v1/assets/${m.assetId}/device-credentials`, { token: m.key, body: { label } });
  expectStatus(res, 201, 'device credential');
  return { credentialId: res.body.credential_id as string, username: res.body.username as string, password: res.body.password as string };
}

/** A read-only API key of the machine's account. */
export async function readOnlyKey(m: Machine): Promise<string> {
  const res = await request(m.url, 'POST', '/api/v1/accounts/me/keys', { token: m.key, body: { scope: 'read' } });
  expectStatus(res, 201, 'read-only key');
  return res.body.api_key as string;
}

/** Ask the LNURL callback for an invoice (LUD-06) and return its payment hash. */
export async function invoice(m: Machine, sats = 10): Promise<string> {
  const res = await fetch(`${m.linkUrl}/callback?amount=${sats * 1000}`);
  const body = (await res.json()) as { pr?: string; status?: string; reason?: string };
  if (res.status !== 200 || typeof body.pr !== 'string') throw new Error(`LNURL callback: ${res.status} ${JSON.stringify(body)}`);
  return new Invoice({ pr: body.pr }).paymentHash;
}

/** Settle an invoice with the admin's dev settle; resolves with the payment id once the bridge answered 200. */
export async function settle(url: string, adminToken: string, hash: string): Promise<string> {
  const res = await request(url, 'POST', `/api/v1/dev/payments/${hash}/settle`, { headers: { authorization: `Bearer ${adminToken}` } });
  expectStatus(res, 200, 'dev settle');
  return res.body.payment_id as string;
}

/** One payment, invoice to settlement. */
export async function pay(m: Machine, adminToken: string, sats = 10): Promise<string> {
  return settle(m.url, adminToken, await invoice(m, sats));
}

/** `count` payments, `batch` at a time; their ids in settlement order of the batches. */
export async function payMany(m: Machine, adminToken: string, count: number, batch = 20): Promise<string[]> {
  const ids: string[] = [];
  for (let done = 0; done < count; done += batch) {
    ids.push(...(await Promise.all(Array.from({ length: Math.min(batch, count - done) }, () => pay(m, adminToken)))));
  }
  return ids;
}

export interface PaymentView {
  payment_id: string;
  payment_hash: string;
  status: string;
  delivered_at: string | null;
}

/** Every payment of the asset, following `next_cursor`. */
export async function allPayments(m: Machine, pageSize = 50): Promise<PaymentView[]> {
  const out: PaymentView[] = [];
  let cursor: string | null = null;
  do {
    const res: ApiResponse = await request(m.url, 'GET', `/api/v1/assets/${m.assetId}/payments?limit=${pageSize}${cursor ? `&cursor=${cursor}` : ''}`, {
      token: m.key,
    });
    expectStatus(res, 200, 'list payments');
    out.push(...(res.body.payments as PaymentView[]));
    cursor = res.body.next_cursor as string | null;
  } while (cursor);
  return out;
}

export interface EventView {
  event_id: string;
  type: string;
  external_id: string | null;
  source: string;
  data: Record<string, unknown> | null;
}

/** Every event of the asset, following `next_cursor`. */
export async function allEvents(m: Machine, pageSize = 200): Promise<EventView[]> {
  const out: EventView[] = [];
  let cursor: string | null = null;
  do {
    const res: ApiResponse = await request(m.url, 'GET', `/api/public/events?asset_id=${m.assetId}&limit=${pageSize}${cursor ? `&cursor=${cursor}` : ''}`, {
      token: m.key,
    });
    expectStatus(res, 200, 'list events');
    out.push(...(res.body.events as EventView[]));
    cursor = res.body.next_cursor as string | null;
  } while (cursor);
  return out;
}
