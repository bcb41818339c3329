/**
 * No SSRF through wallets: an LNbits, LND or BTCPay URL or a Lightning address at a forbidden
 * address (every spelling) is refused when the wallet is saved; one stored under a laxer policy, or
 * a name that resolves to loopback, is refused when fetched: invoices fail with backend_unavailable
 * and nothing is connected to. The Lightning-address proxy does not serve an internal service's
 * metadata, and its callback and verify URLs are checked too. OUTBOUND_ALLOW lets a LAN wallet through.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Outbound } from '../../bridge/http/outbound.js';
import { OutboundAllow } from '../../bridge/http/ssrf.js';
import { BackendError } from '../../bridge/lightning/backends/backend.js';
import { LnAddressBackend } from '../../bridge/lightning/backends/lnaddress.js';
import { Metrics } from '../../bridge/metrics.js';
import { startBridge, type TestBridge } from '../helpers/bridge.js';
import { createMachine } from '../helpers/machine.js';
import { FakeLnbits } from '../lightning/fakes/lnbits.js';
import { startLnurlService, type LnurlService } from '../lightning/fakes/lnurl-service.js';
import {
  ALLOW_EVERYTHING,
  FORBIDDEN_ADDRESS_HOSTS,
  FORBIDDEN_HOSTS,
  outboundRefusals,
  startCountingServer,
  type CountingServer,
} from './forbidden-addresses.js';

const STRICT = { OUTBOUND_ALLOW: '', LIGHTNING_TIMEOUT_MS: 2000 };

let target: CountingServer;
beforeAll(async () => {
  target = await startCountingServer();
});
afterAll(async () => {
  await target.close();
});

const at = (host: string) => `http://${host}:${target.port}`;
const wallets = (host: string) => [
  { backend: 'lnbits', url: at(host), invoice_key: 'invoice-key' },
  { backend: 'lnd', url: at(host), macaroon: '02'.repeat(32) },
  { backend: 'btcpay', url: at(host), store_id: 'store', api_key: 'api-key', webhook_secret: 'webhook-secret' },
];

/** The link's LNURL callback on bridge `t` (links outlive a restart; their URL follows the bridge). */
const callback = (t: TestBridge, linkUrl: string, msat = 10_000) => `${t.url}/lnurl/pay/${linkUrl.split('/').pop()}/callback?amount=${msat}`;

describe('wallets at forbidden addresses', () => {
  it('are refused when saved, in every spelling, with 400 invalid_body', async () => {
    const t = await startBridge(STRICT);
    try {
      const { key } = await t.signup('wallets');
      for (const [host, what] of FORBIDDEN_HOSTS) {
        for (const body of wallets(host)) {
          const res = await t.request('PUT', '/api/v1/accounts/me/wallet', { token: key, body });
          expect(res.status, `${body.backend} at ${host} (${what})`).toBe(400);
          expect(res.body.error).toBe('invalid_body');
          expect(res.body.message).toMatch(/url: points at a .* address/);
        }
      }
      for (const [host, what] of FORBIDDEN_ADDRESS_HOSTS) {
        const res = await t.request('PUT', '/api/v1/accounts/me/wallet', { token: key, body: { backend: 'lnaddress', address: `pay@${host}:${target.port}` } });
        expect(res.status, `lnaddress at ${host} (${what})`).toBe(400);
        expect(res.body.message).toMatch(/address: points at a .* address/);
      }
      expect((await t.request('GET', '/api/v1/accounts/me/wallet', { token: key })).body.source).toBe('server');
    } finally {
      await t.close();
    }
  });

  it('fail with backend_unavailable when fetched (stored under a laxer policy, or a name that resolves to loopback), connecting to nothing', async () => {
    const lax = await startBridge({ ...STRICT, OUTBOUND_ALLOW: ALLOW_EVERYTHING });
    const machines: { what: string; linkUrl: string }[] = [];
    const store = async (what: string, wallet: Record<string, string>) => {
      const m = await createMachine(lax.url, 'Vend');
      expect((await lax.request('PUT', '/api/v1/accounts/me/wallet', { token: m.key, body: wallet })).status, what).toBe(200);
      machines.push({ what, linkUrl: m.linkUrl });
    };
    for (const [host] of FORBIDDEN_HOSTS) await store(`lnbits at ${host}`, wallets(host)[0] as Record<string, string>);
    for (const host of ['127.0.0.1', '2130706433', '[::ffff:127.0.0.1]', '169.254.169.254']) {
      for (const wallet of wallets(host).slice(1)) await store(`${wallet.backend} at ${host}`, wallet);
    }
    for (const wallet of wallets('localhost')) await store(`${wallet.backend} at localhost`, wallet);
    await lax.stop();
    // Saving an LND asks the node for its invoice lookup (under the lax policy it is reached): count from here.
    target.connections = 0;

    const t = await startBridge(STRICT, { dataDir: lax.dataDir });
    try {
      for (const { what, linkUrl } of machines) {
        const res = await fetch(callback(t, linkUrl));
        expect(res.status, what).toBe(503);
        const body = (await res.json()) as { status: string; reason: string };
        expect(body.status, what).toBe('ERROR');
        expect(body.reason, what).toMatch(/Lightning wallet \((lnbits|lnd|btcpay)\) is unavailable right now/);
      }
      expect(target.connections).toBe(0);
      expect(await outboundRefusals(t, 'ssrf')).toBeGreaterThanOrEqual(machines.length);
    } finally {
      await t.close();
      await lax.close();
    }
  });

  it('answer the owner with "refused" and no more (BTCPay checkout)', async () => {
    const lax = await startBridge({ OUTBOUND_ALLOW: ALLOW_EVERYTHING });
    const m = await createMachine(lax.url, 'Vend');
    expect((await lax.request('PUT', '/api/v1/accounts/me/wallet', { token: m.key, body: wallets('169.254.169.254')[2] })).status).toBe(200);
    await lax.stop();
    const t = await startBridge(STRICT, { dataDir: lax.dataDir });
    try {
      const res = await t.request('POST', `/api/v1/assets/${m.assetId}/checkout`, { token: m.key, body: {} });
      expect(res.body.error).toBe('backend_unavailable');
      expect(res.body.message).toBe(
        `The Lightning backend is unavailable (btcpay: request to 169.254.169.254:${target.port} refused (unreachable, an untrusted TLS certificate, or an address this server does not connect to)); retry later`,
      );
    } finally {
      await t.close();
      await lax.close();
    }
  });
});

describe('the Lightning-address proxy', () => {
  let fake: LnurlService;
  beforeAll(async () => {
    fake = await startLnurlService();
  });
  afterAll(async () => {
    await fake.close();
  });

  it('does not fetch, or serve the metadata of, a service at a forbidden address', async () => {
    const t = await startBridge({ ...STRICT, LIGHTNING_BACKEND: 'lnaddress' });
    try {
      const port = fake.host.split(':')[1];
      const hosts = [...FORBIDDEN_ADDRESS_HOSTS.map(([host]) => host), 'localhost'];
      for (const [i, host] of hosts.entries()) {
        const name = `internal${i}`;
        fake.addUser(name);
        const { key } = await t.signup('proxy', { lightning_address: `${name}@${host}:${port}` });
        const asset = await t.request('POST', '/api/v1/assets', { token: key, body: { name: 'Vend', price_sats: 10 } });
        const link = await t.request('POST', `/api/v1/assets/${asset.body.asset_id}/payment-link`, { token: key });
        const res = await fetch(link.body.url);
        const text = await res.text();
        expect(res.status, host).toBe(503);
        expect(JSON.parse(text), host).toMatchObject({ status: 'ERROR' });
        expect(text).not.toContain('fake service');
      }
      expect(fake.requests).toEqual([]);
      expect(await outboundRefusals(t, 'ssrf')).toBeGreaterThanOrEqual(hosts.length);
    } finally {
      await t.close();
    }
  });

  it('checks the callback and verify URLs the remote service hands out', async () => {
    const metrics = new Metrics();
    const allow = OutboundAllow.parse('127.0.0.1');
    if ('error' in allow) throw new Error(allow.error);
    const outbound = new Outbound({ allow: allow.value, metrics });
    const address = fake.addUser('remote');
    const metadata = fake.users.get('remote')?.metadata as string;
    const backend = new LnAddressBackend(address, { timeoutMs: 2000, cacheMs: 0, outbound });
    const request = {
      amountMsat: 21_000,
      descriptionHash: createHash('sha256').update(metadata).digest('hex'),
      metadata,
      memo: 'm',
      expirySeconds: 600,
      paymentId: 'p1',
    };
    fake.payRequestOverrides = { callback: 'https://169.254.169.254/lnurlp/callback' };
    try {
      const err = await backend.createInvoice(request).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(BackendError);
      expect((err as BackendError).message).toMatch(/request to 169\.254\.169\.254 refused/);
      const verify = await backend.lookupInvoice('ab'.repeat(32), 'https://[::ffff:a9fe:a9fe]/verify/x').then(
        () => undefined,
        (e: unknown) => e,
      );
      expect((verify as BackendError).message).toMatch(/refused/);
      const ssrf = (await metrics.refusals.get()).values.find((v) => v.labels.reason === 'ssrf')?.value;
      expect(ssrf).toBe(2);
    } finally {
      fake.payRequestOverrides = {};
    }
  });
});

describe('OUTBOUND_ALLOW for a wallet on the LAN', () => {
  it('lets the allowed LNbits make invoices while other private addresses stay refused', async () => {
    const lnbits = await FakeLnbits.start();
    const t = await startBridge({ ...STRICT, OUTBOUND_ALLOW: '127.0.0.1' });
    try {
      const m = await createMachine(t.url, 'Vend');
      const elsewhere = await t.request('PUT', '/api/v1/accounts/me/wallet', {
        token: m.key,
        body: { backend: 'lnbits', url: 'http://127.0.0.2:5000', invoice_key: lnbits.invoiceKey },
      });
      expect(elsewhere.status).toBe(400);
      expect(
        (await t.request('PUT', '/api/v1/accounts/me/wallet', { token: m.key, body: { backend: 'lnbits', url: lnbits.url, invoice_key: lnbits.invoiceKey } }))
          .status,
      ).toBe(200);
      const res = await fetch(callback(t, m.linkUrl));
      expect(res.status).toBe(200);
      expect(((await res.json()) as { pr: string }).pr).toMatch(/^lnbcrt/);
    } finally {
      await t.close();
      await lnbits.close();
    }
  });
});

describe("the server's default backend", () => {
  it('is reached on a private host the operator configured, while a tenant wallet at the same host is refused', async () => {
    const lnbits = await FakeLnbits.start();
    const t = await startBridge({ ...STRICT, LIGHTNING_BACKEND: 'lnbits', LNBITS_URL: lnbits.url, LNBITS_INVOICE_KEY: lnbits.invoiceKey });
    try {
      const served = await createMachine(t.url, 'Vend');
      const res = await fetch(callback(t, served.linkUrl));
      expect(res.status).toBe(200);
      expect(((await res.json()) as { pr: string }).pr).toMatch(/^lnbcrt/);

      const tenant = await createMachine(t.url, 'Vend');
      const own = await t.request('PUT', '/api/v1/accounts/me/wallet', {
        token: tenant.key,
        body: { backend: 'lnbits', url: lnbits.url, invoice_key: lnbits.invoiceKey },
      });
      expect(own.status).toBe(400);
      expect(own.body.message).toMatch(/url: points at a .* address/);
    } finally {
      await t.close();
      await lnbits.close();
    }
  });
});
