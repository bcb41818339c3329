/**
 * A stand-in LND REST proxy for tests, on port 0 (plain HTTP, or HTTPS with a given key and
 * certificate): `POST /v1/invoices`, `GET /v2/invoices/lookup?payment_hash=`,
 * `GET /v1/invoice/{r_hash_str}` and the invoice stream `GET /v1/invoices/subscribe`
 * (newline-delimited `{"result": Invoice}`, with `settle_index` replay), authenticated by
 * `Grpc-Metadata-macaroon` and answering the way lnd master behind grpc-gateway v2 does:
 * errors as `{code, message, details}`; LND's own refusals (a bad macaroon, an expiry over a year) as
 * plain errors, HTTP 500 code 2; paths without a route as the gateway's 404 `{code: 5, message:
 * "Not Found"}`; stream headers held back until the first event; only added and settled invoices on
 * the stream. Invoices are real signed regtest BOLT 11 invoices from its own node key. It writes every
 * deviation from LND's API to `problems`. Knobs: the build (with or without the v2 lookup), settle or
 * cancel invoices, fail with a status, hang, answer garbage, refuse or kill streams, push raw stream
 * lines, tamper with the invoices it makes.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { signInvoice, type Failure, type RecordedRequest } from './lnbits.js';

export type { Failure, RecordedRequest };

export type LndInvoiceState = 'OPEN' | 'SETTLED' | 'CANCELED' | 'ACCEPTED';

export interface FakeLndInvoice {
  paymentHash: string;
  preimage: string;
  pr: string;
  amountMsat: number;
  descriptionHash: string;
  memo: string;
  expirySeconds: number;
  created: number;
  addIndex: number;
  settleIndex: number;
  settledAt: number;
  state: LndInvoiceState;
}

/** Fields of lnrpc.Invoice, the body of AddInvoice. */
const INVOICE_FIELDS = new Set([
  'memo',
  'r_preimage',
  'r_hash',
  'value',
  'value_msat',
  'settled',
  'creation_date',
  'settle_date',
  'payment_request',
  'description_hash',
  'expiry',
  'fallback_addr',
  'cltv_expiry',
  'route_hints',
  'private',
  'add_index',
  'settle_index',
  'amt_paid',
  'amt_paid_sat',
  'amt_paid_msat',
  'state',
  'htlcs',
  'features',
  'is_keysend',
  'payment_addr',
  'is_amp',
  'amp_invoice_state',
  'is_blinded',
  'blinded_path_config',
]);

const b64 = (hex: string) => Buffer.from(hex, 'hex').toString('base64');

/**
 * Which LND this is, as far as invoice lookup goes:
 * - `master`: built with `invoicesrpc` (0.14+, lnd's release builds): `/v2/invoices/lookup` exists;
 *   an unknown hash is NotFound, HTTP 404 code 5 "unable to locate invoice" (`rpcserver.go`,
 *   `lnrpc/invoicesrpc/invoices_server.go`).
 * - `no-invoicesrpc`: built without the tag (`invoices_server.go` is `//go:build invoicesrpc`), or
 *   older than 0.14: the v2 path has no route, and the gateway answers 404 `{code: 5, "Not Found"}`.
 * - `old`: no v2 either, and `LookupInvoice` returns the plain error (`if err != nil { return nil,
 *   err }` in older `rpcserver.go`): an unknown hash is HTTP 500 code 2 "unable to locate invoice".
 */
export type LndBuild = 'master' | 'no-invoicesrpc' | 'old';

/** `lnrpc/invoicesrpc/addinvoice.go`: "we'll reject an invoice with an expiry greater than 1 year". */
const MAX_EXPIRY_SECONDS = 365 * 24 * 3600;

export class FakeLnd {
  url = '';
  readonly macaroon = randomBytes(40).toString('hex');
  readonly invoices = new Map<string, FakeLndInvoice>();
  readonly requests: RecordedRequest[] = [];
  /** Every way a request deviated from LND's REST API. Tests expect it empty. */
  readonly problems: string[] = [];
  /** Every subscription asked for (refused ones too), with its query and time. */
  readonly subscriptions: { query: URLSearchParams; at: number }[] = [];
  /** Applied to every unary request while set. */
  failure: Failure | undefined;
  /** Applied to subscriptions while set. */
  streamFailure: Failure | undefined;
  tamper: 'amount' | 'description_hash' | undefined;
  build: LndBuild = 'master';
  private readonly nodeKey = randomBytes(32);
  private readonly server: Server;
  private readonly streams = new Set<ServerResponse>();
  private readonly hanging = new Set<ServerResponse>();
  private addIndex = 0;
  private settleIndex = 0;

  private constructor(tls: { key: string; cert: string } | undefined) {
    const handler = (req: IncomingMessage, res: ServerResponse) => {
      this.handle(req, res).catch((err: unknown) => {
        this.problems.push(`fake crashed: ${(err as Error).message}`);
        if (!res.headersSent) res.writeHead(500).end();
      });
    };
    this.server = tls ? createHttpsServer(tls, handler) : createHttpServer(handler);
  }

  static async start(options: { tls?: { key: string; cert: string } } = {}): Promise<FakeLnd> {
    const fake = new FakeLnd(options.tls);
    await new Promise<void>((resolve) => fake.server.listen(0, '127.0.0.1', resolve));
    fake.url = `${options.tls ? 'https' : 'http'}://127.0.0.1:${(fake.server.address() as AddressInfo).port}`;
    return fake;
  }

  /** Open subscriptions right now. */
  get openStreams(): number {
    return this.streams.size;
  }

  /** The invoice is paid: SETTLED with the next settle index, announced on every stream. */
  markPaid(paymentHash: string): void {
    const invoice = this.invoice(paymentHash);
    invoice.state = 'SETTLED';
    invoice.settleIndex = ++this.settleIndex;
    invoice.settledAt = Math.floor(Date.now() / 1000);
    this.broadcast({ result: this.json(invoice) });
  }

  /**
   * The invoice is cancelled. Not announced: "for backwards compatibility, do not notify all invoice
   * subscribers of cancel and accept events" (lnd `invoices/invoiceregistry.go`).
   */
  cancel(paymentHash: string): void {
    this.invoice(paymentHash).state = 'CANCELED';
  }

  /** Write one raw line to every open stream. */
  push(line: unknown): void {
    this.broadcast(line);
  }

  /** The Invoice JSON LND would show for this invoice (for forging stream lines in tests). */
  invoiceJson(paymentHash: string): Record<string, unknown> {
    return this.json(this.invoice(paymentHash));
  }

  /** Cut every open stream, as a restarting node or a dropped connection would. */
  killStreams(): void {
    for (const res of this.streams) res.destroy();
    this.streams.clear();
  }

  async close(): Promise<void> {
    for (const res of [...this.hanging, ...this.streams]) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private invoice(paymentHash: string): FakeLndInvoice {
    const found = this.invoices.get(paymentHash);
    if (!found) throw new Error(`fake LND has no invoice ${paymentHash}`);
    return found;
  }

  private broadcast(line: unknown): void {
    for (const res of this.streams) res.write(`${JSON.stringify(line)}\n`);
  }

  /** Answer a path the gateway has no route for (grpc-gateway v2 `runtime/errors.go` DefaultRoutingErrorHandler). */
  private noRoute(res: ServerResponse): void {
    status(res, 404, 5, 'Not Found');
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', 'http://x');
    let body: unknown;
    if (raw !== '') {
      try {
        body = JSON.parse(raw);
      } catch {
        this.problems.push(`${req.method} ${url.pathname}: body is not JSON`);
        return status(res, 400, 3, 'unexpected end of JSON input');
      }
    }
    this.requests.push({ method: req.method ?? '', path: `${url.pathname}${url.search}`, headers: req.headers, body });
    const subscribe = req.method === 'GET' && url.pathname === '/v1/invoices/subscribe';

    if (subscribe) this.subscriptions.push({ query: url.searchParams, at: Date.now() });
    const failure = subscribe ? this.streamFailure : this.failure;
    if (failure === 'hang') {
      this.hanging.add(res);
      return;
    }
    if (failure === 'garbage') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('upstream connect error or disconnect/reset before headers');
      return;
    }
    if (failure) return send(res, failure.status, failure.body ?? { code: 14, message: 'connection error', details: [] });

    const macaroon = req.headers['grpc-metadata-macaroon'];
    if (typeof macaroon !== 'string') return status(res, 500, 2, 'expected 1 macaroon, got 0');
    if (macaroon !== this.macaroon) return status(res, 500, 2, 'verification failed: signature mismatch after caveat verification');

    if (subscribe) return this.subscribe(url.searchParams, res);
    if (req.method === 'POST' && url.pathname === '/v1/invoices') return this.add(body, res);
    if (req.method === 'GET' && url.pathname === '/v2/invoices/lookup') {
      return this.build === 'master' ? this.lookup(url.searchParams, res) : this.noRoute(res);
    }
    const v1 = /^\/v1\/invoice\/([^/]+)$/.exec(url.pathname);
    if (req.method === 'GET' && v1) return this.lookupV1(decodeURIComponent(v1[1] as string), res);
    this.problems.push(`${req.method} ${url.pathname}: not an LND endpoint the bridge should call`);
    return this.noRoute(res);
  }

  private add(body: unknown, res: ServerResponse): void {
    const problems: string[] = [];
    const b = (typeof body === 'object' && body !== null && !Array.isArray(body) ? body : {}) as Record<string, unknown>;
    if (b !== body) problems.push('body is not a JSON object');
    const unknown = Object.keys(b).filter((field) => !INVOICE_FIELDS.has(field));
    if (unknown.length > 0) {
      this.problems.push(`POST /v1/invoices: unknown field ${unknown[0]}`);
      return status(res, 400, 3, `proto: (line 1:2): unknown field "${unknown[0]}"`);
    }
    const valueMsat = b['value_msat'];
    if (typeof valueMsat !== 'string' || !/^[1-9]\d*$/.test(valueMsat)) problems.push('value_msat must be a positive int64 as a decimal string');
    if (b['value'] !== undefined) problems.push('value and value_msat are both set');
    const descriptionHash = b['description_hash'];
    const hashBytes = typeof descriptionHash === 'string' && /^[A-Za-z0-9+/]{43}=$/.test(descriptionHash) ? Buffer.from(descriptionHash, 'base64') : undefined;
    if (!hashBytes || hashBytes.length !== 32) problems.push('description_hash must be the standard base64 of 32 bytes');
    const expiry = b['expiry'];
    if (typeof expiry !== 'string' || !/^[1-9]\d*$/.test(expiry)) problems.push('expiry must be a positive int64 as a decimal string');
    const memo = b['memo'];
    if (memo !== undefined && (typeof memo !== 'string' || Buffer.byteLength(memo) > 1024)) problems.push('memo must be a string of at most 1024 bytes');
    if (problems.length > 0) {
      this.problems.push(...problems.map((p) => `POST /v1/invoices: ${p}`));
      // LND checks these in AddInvoice and answers a plain error: gRPC Unknown, HTTP 500.
      return status(res, 500, 2, problems.join('; '));
    }
    // A valid request LND refuses all the same (`lnrpc/invoicesrpc/addinvoice.go`).
    if (Number(expiry) > MAX_EXPIRY_SECONDS) {
      return status(res, 500, 2, `expiry of ${Number(expiry)} seconds greater than max expiry of ${MAX_EXPIRY_SECONDS} seconds`);
    }

    const preimage = randomBytes(32).toString('hex');
    const paymentHash = createHash('sha256').update(Buffer.from(preimage, 'hex')).digest('hex');
    let amountMsat = Number(valueMsat);
    let hashHex = (hashBytes as Buffer).toString('hex');
    if (this.tamper === 'amount') amountMsat += 1000;
    if (this.tamper === 'description_hash')
      hashHex = createHash('sha256')
        .update(String(memo ?? ''))
        .digest('hex');
    const created = Math.floor(Date.now() / 1000);
    const expirySeconds = Number(expiry);
    const invoice: FakeLndInvoice = {
      paymentHash,
      preimage,
      pr: signInvoice(this.nodeKey, { paymentHash, amountMsat, descriptionHash: hashHex, expirySeconds, timestamp: created }),
      amountMsat,
      descriptionHash: hashHex,
      memo: typeof memo === 'string' ? memo : '',
      expirySeconds,
      created,
      addIndex: ++this.addIndex,
      settleIndex: 0,
      settledAt: 0,
      state: 'OPEN',
    };
    this.invoices.set(paymentHash, invoice);
    this.broadcast({ result: this.json(invoice) });
    send(res, 200, {
      r_hash: b64(paymentHash),
      payment_request: invoice.pr,
      add_index: String(invoice.addIndex),
      payment_addr: randomBytes(32).toString('base64'),
    });
  }

  private lookup(query: URLSearchParams, res: ServerResponse): void {
    const given = query.get('payment_hash') ?? '';
    // LND's gateway decodes bytes as padded base64; `+` in a query string arrives as a space.
    if (!/^[A-Za-z0-9_-]{43}=$/.test(given)) {
      this.problems.push(`GET /v2/invoices/lookup: payment_hash ${JSON.stringify(given)} is not padded URL-safe base64 of 32 bytes`);
      return status(res, 400, 3, `parsing field "payment_hash": illegal base64 data at input byte ${Math.max(0, given.search(/[^A-Za-z0-9_=-]/))}`);
    }
    const hash = Buffer.from(given, 'base64url').toString('hex');
    const invoice = this.invoices.get(hash);
    if (!invoice) return status(res, 404, 5, 'unable to locate invoice');
    send(res, 200, this.json(invoice));
  }

  /** `GET /v1/invoice/{r_hash_str}`: the hash in hex (`rpcserver.go` LookupInvoice). */
  private lookupV1(given: string, res: ServerResponse): void {
    if (!/^[0-9a-f]{64}$/.test(given)) {
      this.problems.push(`GET /v1/invoice/${given}: r_hash_str is not the lowercase hex of 32 bytes`);
      return status(
        res,
        500,
        2,
        /^[0-9a-fA-F]*$/.test(given) && given.length % 2 === 0
          ? `payment hash must be exactly 32 bytes, is instead ${given.length / 2}`
          : 'encoding/hex: invalid byte',
      );
    }
    const invoice = this.invoices.get(given);
    if (!invoice) return this.build === 'old' ? status(res, 500, 2, 'unable to locate invoice') : status(res, 404, 5, 'unable to locate invoice');
    send(res, 200, this.json(invoice));
  }

  /**
   * The gateway writes no response until `stream.Header()` returns, and gRPC sends headers with the
   * first message (lnd `lnrpc/lightning.pb.gw.go`): headers are set here but go out with the first line.
   */
  private subscribe(query: URLSearchParams, res: ServerResponse): void {
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    this.streams.add(res);
    res.on('close', () => this.streams.delete(res));
    // settle_index: first every settlement after it, oldest first.
    const after = Number(query.get('settle_index') ?? '0');
    if (after > 0) {
      const missed = [...this.invoices.values()].filter((i) => i.state === 'SETTLED' && i.settleIndex > after).sort((a, b) => a.settleIndex - b.settleIndex);
      for (const invoice of missed) res.write(`${JSON.stringify({ result: this.json(invoice) })}\n`);
    }
  }

  /** lnrpc.Invoice as the REST gateway writes it: snake_case, bytes base64, int64 as strings. */
  private json(invoice: FakeLndInvoice): Record<string, unknown> {
    // LND cancels an open invoice once it has expired.
    if (invoice.state === 'OPEN' && (invoice.created + invoice.expirySeconds) * 1000 <= Date.now()) invoice.state = 'CANCELED';
    const settled = invoice.state === 'SETTLED';
    const paid = settled ? invoice.amountMsat : 0;
    return {
      memo: invoice.memo,
      r_preimage: b64(invoice.preimage),
      r_hash: b64(invoice.paymentHash),
      value: String(Math.floor(invoice.amountMsat / 1000)),
      value_msat: String(invoice.amountMsat),
      settled,
      creation_date: String(invoice.created),
      settle_date: String(invoice.settledAt),
      payment_request: invoice.pr,
      description_hash: b64(invoice.descriptionHash),
      expiry: String(invoice.expirySeconds),
      fallback_addr: '',
      cltv_expiry: '18',
      route_hints: [],
      private: false,
      add_index: String(invoice.addIndex),
      settle_index: String(invoice.settleIndex),
      amt_paid: String(paid),
      amt_paid_sat: String(Math.floor(paid / 1000)),
      amt_paid_msat: String(paid),
      state: invoice.state,
      htlcs: [],
      features: {},
      is_keysend: false,
      payment_addr: b64(invoice.paymentHash.split('').reverse().join('')),
      is_amp: false,
      amp_invoice_state: {},
    };
  }
}

function send(res: ServerResponse, code: number, body: unknown): void {
  if (typeof body === 'string') res.writeHead(code, { 'content-type': 'text/plain' }).end(body);
  else res.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

/** A gRPC status through the gateway. */
function status(res: ServerResponse, http: number, code: number, message: string): void {
  send(res, http, { code, message, details: [] });
}
