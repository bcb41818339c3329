/**
 * A stand-in BTCPay Server speaking the Greenfield API the btcpay backend uses, on a real port:
 * store Lightning invoices (`/lightning/BTC/invoices`, with `descriptionHashOnly`), store invoices with
 * a checkout page and their payment methods, and webhooks sent the way BTCPay sends them
 * (pretty-printed JSON, `BTCPay-Sig: sha256=<hex HMAC-SHA256(secret, body)>`, redeliveries with a new
 * `deliveryId`). Invoices are real signed BOLT 11 on regtest. It checks what it is sent (the
 * `Authorization: token <key>` header, the body's fields) and answers as BTCPay does (401, 404,
 * 422 `[{path, message}]`, 400 `generic-error` when the store's Lightning node fails). Each store is
 * a BTCPay 1.x (1.13) or 2.x (2.4) one: payment method ids are parsed and named as that version does.
 * Knobs: the version, a Lightning node that is down, fail with a status, hang, answer garbage, tamper
 * with invoices.
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import bolt11 from 'bolt11';

const REGTEST = { bech32: 'bcrt', pubKeyHash: 111, scriptHash: 196, validWitnessVersions: [0, 1] };
const BASE58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';

export function btcpayId(length = 22): string {
  return [...randomBytes(length)].map((b) => BASE58[b % 58]).join('');
}

export interface FakeStore {
  storeId: string;
  apiKey: string;
  webhookSecret: string;
  /** Where this store's webhook delivers. */
  webhookUrl: string | undefined;
  /** The BTCPay Server the store lives on: how payment method ids are parsed and named. */
  version: 1 | 2;
  /** The store's payment methods: Lightning and on-chain, or on-chain only. */
  methods: 'lightning' | 'onchain-only';
  /**
   * The store's Lightning node fails with this exception message (down, unreachable): invoice
   * creation answers 400 `generic-error`, lookups 503 `lightning-node-unavailable`
   * (GreenfieldLightningNodeApiController.cs, its catch and LightningUnavailableExceptionFilter).
   */
  nodeDown: string | null;
}

export interface LightningInvoice {
  id: string;
  storeId: string;
  status: 'Unpaid' | 'Paid' | 'Expired';
  BOLT11: string;
  paymentHash: string;
  preimage: string;
  amount: string;
  expiresAt: number;
  paidAt: number | null;
}

export interface StoreInvoice {
  id: string;
  storeId: string;
  status: 'New' | 'Processing' | 'Expired' | 'Invalid' | 'Settled';
  amount: string;
  currency: string;
  metadata: Record<string, unknown>;
  checkout: Record<string, unknown>;
  createdTime: number;
  expirationTime: number;
  bolt11: string;
  paymentHash: string;
}

export interface Delivery {
  deliveryId: string;
  body: string;
  headers: Record<string, string>;
  status: number;
  answer: any;
}

export interface Recorded {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: any;
}

export interface FakeBtcpay {
  url: string;
  requests: Recorded[];
  lightning: Map<string, LightningInvoice>;
  invoices: Map<string, StoreInvoice>;
  addStore(options?: Partial<FakeStore>): FakeStore;
  /** Answer the next `times` API requests (whose path contains `match`) with `status` (a Greenfield error body). */
  failNext(status: number, times?: number, match?: string): void;
  /** Every API request answers this status until set back to null. */
  failAll: number | null;
  /** API requests are never answered. */
  hang: boolean;
  /** API requests get an HTML page with status 200. */
  garbage: boolean;
  /** The next Lightning invoices commit to the wrong amount or description hash. */
  tamper: 'amount' | 'hash' | null;
  payLightning(id: string): void;
  expireLightning(id: string): void;
  setStatus(invoiceId: string, status: StoreInvoice['status']): void;
  /** Mark a store invoice paid and settled, and send its webhooks (InvoiceReceivedPayment, InvoicePaymentSettled, InvoiceSettled). */
  settle(invoiceId: string): Promise<Delivery[]>;
  /** Send one invoice event for a store invoice, signed with the store's secret (or `secret`). */
  send(type: string, invoiceId: string, options?: { secret?: string; extra?: Record<string, unknown> }): Promise<Delivery>;
  /** Send any payload to the store's webhook, signed with the store's secret (or `secret`, or the literal `signature`). */
  deliver(storeId: string, payload: Record<string, unknown>, options?: { secret?: string; signature?: string | null }): Promise<Delivery>;
  /** BTCPay's "redeliver": the same event with a new `deliveryId`, `isRedelivery: true`. */
  redeliver(delivery: Delivery, storeId: string): Promise<Delivery>;
  /** The same bytes and headers again (an attacker's or a proxy's replay). */
  replay(delivery: Delivery, storeId: string): Promise<Delivery>;
  close(): Promise<void>;
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify(body));
}

/** Greenfield validation errors: 422 `[{path, message}]`. */
function invalid(res: ServerResponse, path: string, message: string): void {
  sendJson(res, 422, [{ path, message }]);
}

function extraKeys(value: Record<string, unknown>, allowed: string[]): string | undefined {
  return Object.keys(value).find((k) => !allowed.includes(k));
}

/**
 * Whether a payment method id parses on this BTCPay version (only BTC is set up here).
 * 1.x `PaymentMethodId.TryParse`: split on `_`/`-`; one part is on-chain; the type must be one of
 * `PaymentTypes`' ids or normalized names, case-insensitive (`BTCLike`/`OnChain`,
 * `LightningLike`/`LightningNetwork`/`OffChain`, `LNURLPAY`): `BTC-LN` is not one.
 * 2.x: the legacy names map to `CHAIN`/`LN`/`LNURL`, other types are taken as they are, and the id
 * must have a handler (`BTC-CHAIN`, `BTC-LN`, `BTC-LNURL`).
 */
function parsesPaymentMethod(id: unknown, version: 1 | 2): boolean {
  if (typeof id !== 'string') return false;
  const parts = id.trim().split(/[_-]/).filter(Boolean);
  if (parts.length === 0 || parts.length > 2 || parts[0]?.toUpperCase() !== 'BTC') return false;
  if (parts.length === 1) return true;
  const type = (parts[1] as string).toLowerCase();
  if (version === 1) return ['btclike', 'onchain', 'lightninglike', 'lightningnetwork', 'offchain', 'lnurlpay'].includes(type);
  const legacy: Record<string, string> = {
    lightninglike: 'LN',
    lightningnetwork: 'LN',
    offchain: 'LN',
    bitcoinlike: 'CHAIN',
    onchain: 'CHAIN',
    btclike: 'CHAIN',
    lnurlpay: 'LNURL',
  };
  return ['CHAIN', 'LN', 'LNURL'].includes(legacy[type] ?? (parts[1] as string));
}

export async function startFakeBtcpay(): Promise<FakeBtcpay> {
  const nodeKey = randomBytes(32);
  const stores = new Map<string, FakeStore>();
  const hanging = new Set<ServerResponse>();
  let failures: { status: number; left: number; match: string } | null = null;

  function makeBolt11(msat: number, expirySeconds: number, commit: { hash: string } | { description: string }) {
    const preimage = randomBytes(32);
    const paymentHash = createHash('sha256').update(preimage).digest('hex');
    const timestamp = Math.floor(Date.now() / 1000);
    const tags: { tagName: string; data: unknown }[] = [
      { tagName: 'payment_hash', data: paymentHash },
      'hash' in commit ? { tagName: 'purpose_commit_hash', data: commit.hash } : { tagName: 'description', data: commit.description },
      { tagName: 'payment_secret', data: randomBytes(32).toString('hex') },
      { tagName: 'expire_time', data: expirySeconds },
      { tagName: 'min_final_cltv_expiry', data: 18 },
      {
        tagName: 'feature_bits',
        data: { word_length: 4, var_onion_optin: { required: false, supported: true }, payment_secret: { required: true, supported: true } },
      },
    ];
    const unsigned = bolt11.encode({ network: REGTEST, millisatoshis: String(msat), timestamp, tags } as unknown as bolt11.PaymentRequestObject);
    const pr = bolt11.sign(unsigned, nodeKey).paymentRequest as string;
    return { pr, paymentHash, preimage: preimage.toString('hex'), expiresAt: timestamp + expirySeconds };
  }

  function lightningView(inv: LightningInvoice) {
    return {
      id: inv.id,
      status: inv.status,
      BOLT11: inv.BOLT11,
      paymentHash: inv.paymentHash,
      preimage: inv.status === 'Paid' ? inv.preimage : null,
      paidAt: inv.paidAt,
      expiresAt: inv.expiresAt,
      amount: inv.amount,
      amountReceived: inv.status === 'Paid' ? inv.amount : '0',
    };
  }

  function invoiceView(inv: StoreInvoice) {
    return {
      id: inv.id,
      storeId: inv.storeId,
      amount: inv.amount,
      paidAmount: inv.status === 'Settled' ? inv.amount : '0',
      currency: inv.currency,
      type: 'Standard',
      checkoutLink: `${state.url}/i/${inv.id}`,
      createdTime: inv.createdTime,
      expirationTime: inv.expirationTime,
      monitoringExpiration: inv.expirationTime + 86_400,
      status: inv.status,
      additionalStatus: 'None',
      availableStatusesForManualMarking: ['Settled', 'Invalid'],
      archived: false,
      metadata: inv.metadata,
      checkout: inv.checkout,
    };
  }

  function methodsView(inv: StoreInvoice, store: FakeStore) {
    const onchain = {
      paymentMethodId: 'BTC-CHAIN',
      currency: 'BTC',
      destination: 'bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080',
      paymentLink: 'bitcoin:bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080',
      rate: '0.00000001',
      amount: (Number(inv.amount) / 1e8).toFixed(8),
      activated: true,
      payments: [],
    };
    const paid = inv.status === 'Settled';
    const ln = {
      currency: 'BTC',
      destination: inv.bolt11,
      paymentLink: `lightning:${inv.bolt11}`,
      rate: '0.00000001',
      paymentMethodPaid: paid ? (Number(inv.amount) / 1e8).toFixed(8) : '0',
      totalPaid: paid ? (Number(inv.amount) / 1e8).toFixed(8) : '0',
      due: paid ? '0' : (Number(inv.amount) / 1e8).toFixed(8),
      amount: (Number(inv.amount) / 1e8).toFixed(8),
      activated: true,
      payments: [],
    };
    if (store.methods === 'onchain-only') return [onchain];
    if (store.version === 1) {
      const { currency: _c, ...rest } = ln;
      return [{ paymentMethod: 'BTC-LightningNetwork', cryptoCode: 'BTC', ...rest }];
    }
    return [{ paymentMethodId: 'BTC-LN', ...ln }];
  }

  async function api(req: IncomingMessage, res: ServerResponse, parts: string[], body: any): Promise<void> {
    // parts: ['api', 'v1', 'stores', storeId, ...rest]
    const store = stores.get(parts[3] ?? '');
    if (!store) return sendJson(res, 404, { code: 'store-not-found', message: 'The store was not found' });
    if (req.headers.authorization !== `token ${store.apiKey}`) {
      return sendJson(res, 401, { code: 'unauthenticated', message: 'Authentication is required for accessing this endpoint' });
    }
    const rest = parts.slice(4);
    const route = `${req.method} ${rest.map((p, i) => ((i === 3 && rest[0] === 'lightning') || (i === 1 && rest[0] === 'invoices') ? ':id' : p)).join('/')}`;
    if (req.method === 'POST' && !(req.headers['content-type'] ?? '').startsWith('application/json')) {
      return sendJson(res, 415, { code: 'unsupported-media-type', message: 'Content-Type must be application/json' });
    }
    switch (route) {
      case 'POST lightning/BTC/invoices': {
        if (typeof body !== 'object' || body === null) return invalid(res, '', 'body must be a JSON object');
        if (store.nodeDown !== null) return sendJson(res, 400, { code: 'generic-error', message: store.nodeDown });
        const extra = extraKeys(body, ['amount', 'description', 'descriptionHash', 'descriptionHashOnly', 'expiry', 'privateRouteHints']);
        if (extra) return invalid(res, extra, `unknown field ${extra}`);
        if (typeof body.amount !== 'string' || !/^\d+$/.test(body.amount)) return invalid(res, 'amount', 'amount must be millisatoshis in a string');
        if (typeof body.description !== 'string') return invalid(res, 'description', 'description is required');
        if (body.descriptionHashOnly !== undefined && typeof body.descriptionHashOnly !== 'boolean')
          return invalid(res, 'descriptionHashOnly', 'must be a boolean');
        if (!Number.isInteger(body.expiry) || body.expiry <= 0) return invalid(res, 'expiry', 'expiry must be a positive number of seconds');
        let msat = Number(body.amount);
        let hash = createHash('sha256').update(body.description, 'utf8').digest('hex');
        if (state.tamper === 'amount') msat += 1000;
        if (state.tamper === 'hash') hash = createHash('sha256').update('something else').digest('hex');
        const made = makeBolt11(msat, body.expiry, body.descriptionHashOnly === true ? { hash } : { description: body.description });
        const inv: LightningInvoice = {
          id: made.paymentHash, // LND-backed stores use the payment hash as the invoice id
          storeId: store.storeId,
          status: 'Unpaid',
          BOLT11: made.pr,
          paymentHash: made.paymentHash,
          preimage: made.preimage,
          amount: String(msat),
          expiresAt: made.expiresAt,
          paidAt: null,
        };
        state.lightning.set(inv.id, inv);
        return sendJson(res, 200, lightningView(inv));
      }
      case 'GET lightning/BTC/invoices/:id': {
        if (store.nodeDown !== null) {
          return sendJson(res, 503, {
            code: 'lightning-node-unavailable',
            message: `The lightning node is unavailable (HttpRequestException: ${store.nodeDown})`,
          });
        }
        const inv = state.lightning.get(rest[3] ?? '');
        if (!inv || inv.storeId !== store.storeId) return sendJson(res, 404, { code: 'invoice-not-found', message: 'The invoice was not found' });
        return sendJson(res, 200, lightningView(inv));
      }
      case 'POST invoices': {
        if (typeof body !== 'object' || body === null) return invalid(res, '', 'body must be a JSON object');
        const extra = extraKeys(body, ['amount', 'currency', 'metadata', 'checkout', 'receipt', 'additionalSearchTerms']);
        if (extra) return invalid(res, extra, `unknown field ${extra}`);
        if (typeof body.amount !== 'string' || !/^\d+(\.\d+)?$/.test(body.amount)) return invalid(res, 'amount', 'amount must be a decimal string');
        if (body.currency !== 'SATS') return invalid(res, 'currency', 'this fake store only prices in SATS');
        if (!/^\d+$/.test(body.amount) || Number(body.amount) < 1) return invalid(res, 'amount', 'SATS amounts are whole numbers');
        if (typeof body.metadata !== 'object' || body.metadata === null || typeof body.metadata.orderId !== 'string')
          return invalid(res, 'metadata.orderId', 'orderId expected');
        const checkout = body.checkout ?? {};
        const extraCheckout = extraKeys(checkout, [
          'speedPolicy',
          'paymentMethods',
          'defaultPaymentMethod',
          'lazyPaymentMethods',
          'expirationMinutes',
          'monitoringMinutes',
          'paymentTolerance',
          'redirectURL',
          'redirectAutomatically',
          'defaultLanguage',
        ]);
        if (extraCheckout) return invalid(res, `checkout.${extraCheckout}`, `unknown field ${extraCheckout}`);
        if (checkout.expirationMinutes !== undefined && (typeof checkout.expirationMinutes !== 'number' || checkout.expirationMinutes <= 0)) {
          return invalid(res, 'checkout.expirationMinutes', 'must be a positive number');
        }
        if (checkout.paymentMethods !== undefined) {
          if (!Array.isArray(checkout.paymentMethods)) return invalid(res, 'checkout.paymentMethods', 'must be an array');
          const bad = checkout.paymentMethods.findIndex((m: unknown) => !parsesPaymentMethod(m, store.version));
          // GreenfieldInvoiceController.cs CreateInvoice: 1.x "Invalid payment method", 2.x "Invalid PaymentMethodId".
          if (bad >= 0) return invalid(res, `checkout.paymentMethods[${bad}]`, store.version === 1 ? 'Invalid payment method' : 'Invalid PaymentMethodId');
        }
        if (checkout.redirectURL !== undefined && typeof checkout.redirectURL !== 'string') return invalid(res, 'checkout.redirectURL', 'must be a string');
        const now = Math.floor(Date.now() / 1000);
        const expirySeconds = Math.round((checkout.expirationMinutes ?? 15) * 60);
        const made = makeBolt11(Number(body.amount) * 1000, expirySeconds, { description: String(body.metadata.itemDesc ?? 'Paid to BTCPay store') });
        const inv: StoreInvoice = {
          id: btcpayId(),
          storeId: store.storeId,
          status: 'New',
          amount: body.amount,
          currency: body.currency,
          metadata: body.metadata,
          checkout,
          createdTime: now,
          expirationTime: now + expirySeconds,
          bolt11: made.pr,
          paymentHash: made.paymentHash,
        };
        state.invoices.set(inv.id, inv);
        return sendJson(res, 200, invoiceView(inv));
      }
      case 'GET invoices/:id':
      case 'GET invoices/:id/payment-methods': {
        const inv = state.invoices.get(rest[1] ?? '');
        if (!inv || inv.storeId !== store.storeId) return sendJson(res, 404, { code: 'invoice-not-found', message: 'The invoice was not found' });
        return sendJson(res, 200, rest[2] === 'payment-methods' ? methodsView(inv, store) : invoiceView(inv));
      }
      default:
        return sendJson(res, 404, { code: 'not-found', message: `${req.method} /${parts.join('/')} is not a Greenfield route` });
    }
  }

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      let body: any;
      try {
        body = text === '' ? undefined : JSON.parse(text);
      } catch {
        return sendJson(res, 400, { code: 'invalid-json', message: 'The body is not JSON' });
      }
      const url = new URL(req.url ?? '/', 'http://fake');
      const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
      if (parts[0] === 'i' && req.method === 'GET') {
        // The hosted checkout page.
        const inv = state.invoices.get(parts[1] ?? '');
        if (!inv) return res.writeHead(404).end();
        return res.writeHead(200, { 'content-type': 'text/html' }).end(`<html><body>Pay ${inv.amount} sats: <code>${inv.bolt11}</code></body></html>`);
      }
      state.requests.push({ method: req.method ?? '', path: url.pathname, headers: req.headers, body });
      if (state.hang) {
        hanging.add(res);
        return;
      }
      if (state.garbage) return res.writeHead(200, { 'content-type': 'text/html' }).end('<html>502 Bad Gateway</html>');
      if (state.failAll !== null) return sendJson(res, state.failAll, { code: 'generic-error', message: `failing with ${state.failAll}` });
      if (failures && failures.left > 0 && url.pathname.includes(failures.match)) {
        failures.left--;
        return sendJson(res, failures.status, { code: 'generic-error', message: `failing with ${failures.status}` });
      }
      if (parts[0] !== 'api' || parts[1] !== 'v1' || parts[2] !== 'stores') return sendJson(res, 404, { code: 'not-found', message: 'Not found' });
      api(req, res, parts, body).catch((err: Error) => sendJson(res, 500, { code: 'generic-error', message: err.message }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));

  async function post(store: FakeStore, body: string, headers: Record<string, string>, deliveryId: string): Promise<Delivery> {
    if (!store.webhookUrl) throw new Error(`store ${store.storeId} has no webhook`);
    const response = await fetch(store.webhookUrl, { method: 'POST', headers, body });
    const text = await response.text();
    let answer: unknown = text;
    try {
      answer = JSON.parse(text);
    } catch {
      // not JSON: keep the text
    }
    return { deliveryId, body, headers, status: response.status, answer };
  }

  function storeOf(storeId: string): FakeStore {
    const store = stores.get(storeId);
    if (!store) throw new Error(`no store ${storeId}`);
    return store;
  }

  function invoiceEvent(type: string, inv: StoreInvoice, extra: Record<string, unknown> = {}): Record<string, unknown> {
    const deliveryId = btcpayId();
    // BTCPay (Newtonsoft) writes the event's own fields first, then the common ones.
    return {
      ...extra,
      deliveryId,
      webhookId: `wh-${inv.storeId}`,
      originalDeliveryId: deliveryId,
      isRedelivery: false,
      type,
      timestamp: Math.floor(Date.now() / 1000),
      storeId: inv.storeId,
      invoiceId: inv.id,
      metadata: inv.metadata,
    };
  }

  const state: FakeBtcpay = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests: [],
    lightning: new Map(),
    invoices: new Map(),
    failAll: null,
    hang: false,
    garbage: false,
    tamper: null,
    addStore(options = {}) {
      const store: FakeStore = {
        storeId: options.storeId ?? btcpayId(44),
        apiKey: options.apiKey ?? randomBytes(20).toString('hex'),
        webhookSecret: options.webhookSecret ?? btcpayId(30),
        webhookUrl: options.webhookUrl,
        version: options.version ?? 2,
        methods: options.methods ?? 'lightning',
        nodeDown: options.nodeDown ?? null,
      };
      stores.set(store.storeId, store);
      return store;
    },
    failNext(status, times = 1, match = '') {
      failures = { status, left: times, match };
    },
    payLightning(id) {
      const inv = state.lightning.get(id);
      if (!inv) throw new Error(`no Lightning invoice ${id}`);
      inv.status = 'Paid';
      inv.paidAt = Math.floor(Date.now() / 1000);
    },
    expireLightning(id) {
      const inv = state.lightning.get(id);
      if (!inv) throw new Error(`no Lightning invoice ${id}`);
      inv.status = 'Expired';
    },
    setStatus(invoiceId, status) {
      const inv = state.invoices.get(invoiceId);
      if (!inv) throw new Error(`no invoice ${invoiceId}`);
      inv.status = status;
    },
    async settle(invoiceId) {
      const inv = state.invoices.get(invoiceId);
      if (!inv) throw new Error(`no invoice ${invoiceId}`);
      inv.status = 'Settled';
      const out: Delivery[] = [];
      if (!storeOf(inv.storeId).webhookUrl) return out;
      out.push(await state.send('InvoiceReceivedPayment', invoiceId, { extra: { afterExpiration: false, paymentMethodId: 'BTC-LN' } }));
      out.push(await state.send('InvoicePaymentSettled', invoiceId, { extra: { afterExpiration: false, paymentMethodId: 'BTC-LN' } }));
      out.push(await state.send('InvoiceSettled', invoiceId, { extra: { manuallyMarked: false, overPaid: false } }));
      return out;
    },
    async send(type, invoiceId, options = {}) {
      const inv = state.invoices.get(invoiceId);
      if (!inv) throw new Error(`no invoice ${invoiceId}`);
      return state.deliver(inv.storeId, invoiceEvent(type, inv, options.extra), options.secret === undefined ? {} : { secret: options.secret });
    },
    async deliver(storeId, payload, options = {}) {
      const store = storeOf(storeId);
      // BTCPay sends indented JSON and signs exactly those bytes.
      const body = JSON.stringify(payload, null, 2);
      const mac = createHmac('sha256', options.secret ?? store.webhookSecret)
        .update(Buffer.from(body, 'utf8'))
        .digest('hex');
      const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': 'BTCPayServer' };
      if (options.signature !== null) headers['btcpay-sig'] = options.signature ?? `sha256=${mac}`;
      return post(store, body, headers, String(payload['deliveryId'] ?? ''));
    },
    async redeliver(delivery, storeId) {
      const original = JSON.parse(delivery.body) as Record<string, unknown>;
      const deliveryId = btcpayId();
      return state.deliver(storeId, { ...original, deliveryId, isRedelivery: true, originalDeliveryId: original['originalDeliveryId'] });
    },
    async replay(delivery, storeId) {
      return post(storeOf(storeId), delivery.body, delivery.headers, delivery.deliveryId);
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of hanging) res.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return state;
}
