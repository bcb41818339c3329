/**
 * Published x402 clients buy a machine run at `GET /api/v1/assets/{id}/x402`, unmodified, over HTTP,
 * on a local chain: the `x402` v1 client (`selectPaymentRequirements`, `createPaymentHeader`, X-PAYMENT)
 * and the v2 client (`@x402/core` x402Client + x402HTTPClient with `@x402/evm`'s exact scheme,
 * PAYMENT-SIGNATURE). The bridge verifies and settles in process, the token moves on chain, the payment
 * is recorded with rail x402 and a device subscribed over MQTT receives it. Replays, wrong terms and an
 * offline machine are refused without a charge.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createPaymentHeader,
  createSigner,
  ExactEvmClientScheme,
  privateKeyToAccount,
  selectPaymentRequirements,
  toClientEvmSigner,
  x402Client,
  x402HTTPClient,
  type PaymentRequirementsV1,
} from '../../compat/clients.js';
import { connectMqtt } from '../../helpers/mqtt.js';
import { until } from '../../helpers/receiver.js';
import { b64, PRICE, sellingMachine, startWorld, unb64, type AgentWorld, type Machine } from './setup.js';

let w: AgentWorld;
beforeAll(async () => {
  // A late receipt is reported pending after 500 ms (the pending test stops mining).
  w = await startWorld({}, { receiptTimeoutMs: 500 });
});
afterAll(async () => {
  await w?.close();
});

const get = (path: string, headers: Record<string, string> = {}) => w.t.request('GET', path, { headers });

/** The v2 client as an agent builds it: the exact EVM scheme on Base Sepolia's CAIP-2 id, its own key. */
function v2Client(key: `0x${string}`) {
  const client = x402Client.fromConfig({
    schemes: [{ network: 'eip155:84532', client: new ExactEvmClientScheme(toClientEvmSigner(privateKeyToAccount(key))) }],
    // Our test token is not one of the client's known stablecoins.
    spendControls: false,
  });
  return new x402HTTPClient(client);
}

/** The v2 client's payment for the machine's first price: the headers it sends with the same GET. */
async function paymentHeaders(http: ReturnType<typeof v2Client>, m: { path: string }): Promise<Record<string, string>> {
  const required = await get(m.path);
  return http.encodePaymentSignatureHeader(
    await http.createPaymentPayload(http.getPaymentRequiredResponse((name) => required.headers.get(name), required.body)),
  );
}

/**
 * A new machine, and a v2 payment for it sent while the chain mines nothing: answered 202 pending; then
 * `meanwhile`, then a block.
 */
async function purchaseBeforeBlock(
  key: `0x${string}`,
  meanwhile: (p: { m: Machine; http: ReturnType<typeof v2Client>; headers: Record<string, string>; sent: Awaited<ReturnType<typeof get>> }) => Promise<void>,
) {
  const m = await sellingMachine(w);
  const http = v2Client(key);
  const headers = await paymentHeaders(http, m);
  await w.chain.setAutomine(false);
  try {
    const sent = await get(m.path, headers);
    expect(sent.status, sent.text).toBe(202);
    expect(sent.body).toMatchObject({ status: 'pending', transaction: expect.stringMatching(/^0x[0-9a-f]{64}$/) });
    await meanwhile({ m, http, headers, sent });
    await w.chain.mine();
    return { m, headers, transaction: sent.body.transaction as string };
  } finally {
    await w.chain.setAutomine(true);
  }
}

describe('the x402 v1 client buys a run', () => {
  it('402 lists the EVM price; X-PAYMENT from createPaymentHeader settles on chain; the device gets the payment', async () => {
    const m = await sellingMachine(w);
    const first = await get(m.path);
    expect(first.status).toBe(402);
    expect(first.body.x402Version).toBe(1);
    const chosen = selectPaymentRequirements(first.body.accepts as PaymentRequirementsV1[], 'base-sepolia', 'exact');
    expect(chosen).toMatchObject({
      scheme: 'exact',
      network: 'base-sepolia',
      maxAmountRequired: PRICE,
      payTo: w.chain.accounts.merchant.address,
      asset: w.token,
      resource: `${w.t.info.publicUrl}${m.path}`,
      extra: { name: 'USDC', version: '2' },
    });
    const before = await w.chain.balanceOf(w.chain.accounts.merchant.address);
    const header = await createPaymentHeader(await createSigner('base-sepolia', w.chain.keys.payer), 1, chosen);
    const paid = await get(m.path, { 'x-payment': header });
    expect(paid.status, paid.text).toBe(200);
    expect(paid.body).toMatchObject({ status: 'paid', rail: 'x402', asset_id: m.assetId, duration_ms: 60_000, payer: w.chain.accounts.payer.address });
    const settlement = unb64(paid.headers.get('x-payment-response'));
    expect(settlement).toMatchObject({ success: true, transaction: expect.stringMatching(/^0x[0-9a-f]{64}$/), network: 'base-sepolia' });
    expect(await w.chain.balanceOf(w.chain.accounts.merchant.address)).toBe(before + BigInt(PRICE));

    const message = await m.nth(1);
    expect(message).toMatchObject({ payment_id: paid.body.payment_id, asset_id: m.assetId, rail: 'x402', duration_ms: 60_000 });
    const payments = await w.t.request('GET', `/api/v1/assets/${m.assetId}/payments`, { token: m.key });
    expect(payments.body.payments[0]).toMatchObject({ payment_id: paid.body.payment_id, rail: 'x402', status: 'settled' });

    // The same header again: refused (the authorization already paid), nothing moves, no second run.
    const replay = await get(m.path, { 'x-payment': header });
    expect(replay.status).toBe(402);
    expect(replay.body.invalidReason).toBe('nonce_already_used');
    expect(await w.chain.balanceOf(w.chain.accounts.merchant.address)).toBe(before + BigInt(PRICE));
    await new Promise((r) => setTimeout(r, 200));
    expect(m.payments()).toHaveLength(1);
  });

  it('refuses a payment to another payee, for less, or signed badly, with the reference reasons and no charge', async () => {
    const m = await sellingMachine(w);
    const { body } = await get(m.path);
    const chosen = (body.accepts as PaymentRequirementsV1[])[0] as PaymentRequirementsV1;
    const signer = await createSigner('base-sepolia', w.chain.keys.payer2);
    const cases: [PaymentRequirementsV1, string][] = [
      [{ ...chosen, payTo: w.chain.accounts.payer.address }, 'invalid_exact_evm_payload_recipient_mismatch'],
      [{ ...chosen, maxAmountRequired: '1' }, 'invalid_exact_evm_payload_authorization_value'],
      [{ ...chosen, extra: { name: 'USDC', version: '1' } }, 'invalid_exact_evm_payload_signature'],
    ];
    const before = await w.chain.balanceOf(w.chain.accounts.payer2.address);
    for (const [terms, reason] of cases) {
      const res = await get(m.path, { 'x-payment': await createPaymentHeader(signer, 1, terms) });
      expect([res.status, res.body.invalidReason], reason).toEqual([402, reason]);
      // A refusal repeats the terms (v1 body and v2 header).
      expect(res.body.accepts).toHaveLength(1);
      expect(unb64(res.headers.get('payment-required')).accepts[0]).toMatchObject({ network: 'eip155:84532', amount: PRICE });
    }
    expect(await w.chain.balanceOf(w.chain.accounts.payer2.address)).toBe(before);
    expect(m.payments()).toEqual([]);
  });
});

describe('the x402 v2 client buys a run', () => {
  it('reads PAYMENT-REQUIRED, picks the EVM price (not Lightning), pays with PAYMENT-SIGNATURE; the device gets the payment', async () => {
    const m = await sellingMachine(w);
    const http = v2Client(w.chain.keys.payer2);
    const first = await get(m.path);
    expect(first.status).toBe(402);
    const required = http.getPaymentRequiredResponse((name) => first.headers.get(name), first.body);
    expect(required.x402Version).toBe(2);
    expect(required.accepts.map((a) => a.network)).toEqual(['eip155:84532', 'bip122:0f9188f13cb7b2c71f2a335e3a4fc328']);
    const payload = await http.createPaymentPayload(required);
    expect(payload.accepted).toMatchObject({ network: 'eip155:84532', amount: PRICE, asset: w.token });
    const before = await w.chain.balanceOf(w.chain.accounts.merchant.address);
    const paid = await get(m.path, http.encodePaymentSignatureHeader(payload));
    expect(paid.status, paid.text).toBe(200);
    const settlement = http.getPaymentSettleResponse((name) => paid.headers.get(name));
    expect(settlement).toMatchObject({ success: true, network: 'eip155:84532', payer: w.chain.accounts.payer2.address });
    expect(await w.chain.balanceOf(w.chain.accounts.merchant.address)).toBe(before + BigInt(PRICE));
    expect(await m.nth(1)).toMatchObject({ payment_id: paid.body.payment_id, rail: 'x402' });
    const events = await w.t.request('GET', `/api/public/events?type=paid&asset_id=${m.assetId}`, { token: m.key });
    expect(events.body.events[0]).toMatchObject({
      source: 'x402',
      data: { rail: 'x402', x402: { network: 'eip155:84532', asset: w.token, amount: PRICE, transaction: settlement.transaction } },
    });
  });

  it('refuses accepted terms that are not the offered ones, and one authorization paying twice concurrently runs once', async () => {
    const m = await sellingMachine(w);
    const http = v2Client(w.chain.keys.payer2);
    const first = await get(m.path);
    const required = http.getPaymentRequiredResponse((name) => first.headers.get(name), first.body);
    // The payer edits the price it accepts: refused before anything is signed on chain.
    const cheap = await http.createPaymentPayload({ ...required, accepts: [{ ...(required.accepts[0] as never as object), amount: '1' } as never] });
    const refused = await get(m.path, http.encodePaymentSignatureHeader(cheap));
    expect([refused.status, refused.body.invalidReason]).toEqual([402, 'invalid_payment_requirements']);

    const payload = await http.createPaymentPayload(required);
    const headers = http.encodePaymentSignatureHeader(payload);
    const answers = await Promise.all(Array.from({ length: 5 }, () => get(m.path, headers)));
    // One run: the others are told it is on its way (202) or already answered (402).
    expect(answers.filter((a) => a.status === 200)).toHaveLength(1);
    expect(
      answers.filter((a) => a.status !== 200).every((a) => a.status === 202 || a.status === 402),
      answers.map((a) => a.text).join('\n'),
    ).toBe(true);
    expect((await get(m.path, headers)).body.invalidReason).toBe('nonce_already_used');
    await m.nth(1);
    await new Promise((r) => setTimeout(r, 200));
    expect(m.payments()).toHaveLength(1);
  });

  it('refuses, without settling, while the machine is offline and its asset refuses payments then', async () => {
    const m = await sellingMachine(w, { refuse_when_offline: true });
    const http = v2Client(w.chain.keys.payer);
    const first = await get(m.path);
    const payload = await http.createPaymentPayload(http.getPaymentRequiredResponse((name) => first.headers.get(name), first.body));
    await m.device.client.publishAsync(`paywire/${m.userId}/${m.assetId}/status`, 'offline', { qos: 1, retain: true });
    await until(
      async () => ((await w.t.request('GET', `/api/v1/assets/${m.assetId}`, { token: m.key })).body.online === false ? true : undefined),
      3000,
      'offline',
    );
    const before = await w.chain.balanceOf(w.chain.accounts.payer.address);
    const refused = await get(m.path, http.encodePaymentSignatureHeader(payload));
    expect([refused.status, refused.body.error, refused.headers.get('retry-after')]).toEqual([409, 'device_offline', '30']);
    expect(await w.chain.balanceOf(w.chain.accounts.payer.address)).toBe(before);
    // Back online: the same signed payload still buys the run.
    await m.device.client.publishAsync(`paywire/${m.userId}/${m.assetId}/status`, 'online', { qos: 1, retain: true });
    await until(
      async () => ((await w.t.request('GET', `/api/v1/assets/${m.assetId}`, { token: m.key })).body.online === true ? true : undefined),
      3000,
      'online',
    );
    expect((await get(m.path, http.encodePaymentSignatureHeader(payload))).status).toBe(200);
    expect(await w.chain.balanceOf(w.chain.accounts.payer.address)).toBe(before - BigInt(PRICE));
  });

  it('answers 202 while the transfer waits for a block; the machine runs once it lands, and the retry gets the run', async () => {
    const { m, headers, transaction } = await purchaseBeforeBlock(w.chain.keys.payer2, async ({ m, http, headers, sent }) => {
      expect(http.getPaymentSettleResponse((name) => sent.headers.get(name))).toMatchObject({ success: false, pending: true });
      // Still not mined: the same header is answered pending again, never "sign again".
      const again = await get(m.path, headers);
      expect(again.status, again.text).toBe(202);
      expect(again.body.transaction).toBe(sent.body.transaction);
      // Recorded, pending, before anything was mined (beside the Lightning invoice the 402 offered); the machine has not run.
      const listed = await w.t.request('GET', `/api/v1/assets/${m.assetId}/payments`, { token: m.key });
      expect(listed.body.payments.filter((p: { rail: string }) => p.rail === 'x402')).toMatchObject([{ status: 'pending' }]);
      expect(m.payments()).toEqual([]);
    });
    // The facilitator's reconciler marks the transfer settled, and the settlement poll runs the machine:
    // the payer need not come back.
    const message = await until(() => m.payments()[0], 20_000, 'the machine runs once the block is mined');
    const listed = await w.t.request('GET', `/api/v1/assets/${m.assetId}/payments?status=settled`, { token: m.key });
    expect(listed.body.payments).toMatchObject([{ payment_id: message['payment_id'], rail: 'x402' }]);
    // The payer's retry gets the run it paid for, once; the same header after that is a replay.
    const paid = await get(m.path, headers);
    expect(paid.status, paid.text).toBe(200);
    expect(paid.body).toMatchObject({ status: 'paid', rail: 'x402', payment_id: message['payment_id'], transaction });
    expect((await get(m.path, headers)).status).toBe(402);
    await new Promise((r) => setTimeout(r, 200));
    expect(m.payments()).toHaveLength(1);
  });

  it('answers a malformed header with 402 invalid_payload, and a foreign network with invalid_network', async () => {
    const m = await sellingMachine(w);
    for (const header of ['not base64!', b64([1, 2]), b64({ x402Version: 3 })]) {
      const res = await get(m.path, { 'payment-signature': header });
      expect(res.status, header).toBe(402);
      expect(['invalid_payload', 'invalid_x402_version']).toContain(res.body.invalidReason);
    }
    const foreign = await get(m.path, { 'x-payment': b64({ x402Version: 1, scheme: 'exact', network: 'base', payload: {} }) });
    expect([foreign.status, foreign.body.invalidReason]).toEqual([402, 'invalid_network']);
  });

  // Last in the file: the world's bridge is a new one afterwards.
  it('keeps a purchase whose transfer is on its way across a restart: the machine runs once it lands', async () => {
    // Nothing of the purchase lives only in memory: the bridge stops before the block, and starts again.
    const { m, headers, transaction } = await purchaseBeforeBlock(w.chain.keys.payer, () => w.restart());
    const device = await connectMqtt(`mqtt://127.0.0.1:${w.t.info.mqttPort}`, { username: m.userId, password: m.key });
    w.clients.push(device);
    await device.client.subscribeAsync(m.topic, { qos: 1 });
    const message = (await until(() => device.on(m.topic)[0], 20_000, 'the machine runs after the restart')) as Record<string, unknown>;
    expect(message).toMatchObject({ asset_id: m.assetId, rail: 'x402' });
    const paid = await get(m.path, headers);
    expect(paid.status, paid.text).toBe(200);
    expect(paid.body).toMatchObject({ status: 'paid', payment_id: message['payment_id'], transaction });
    expect((await get(m.path, headers)).status).toBe(402);
  });
});
