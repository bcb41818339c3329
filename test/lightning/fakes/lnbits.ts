/**
 * A stand-in LNbits for tests, on port 0: one wallet with an invoice key, speaking the two calls of
 * the LNbits payments API the bridge uses (`POST /api/v1/payments` with `out: false`, `GET
 * /api/v1/payments/{payment_hash}`) with LNbits 1.x's answers and errors, and making real signed
 * regtest BOLT 11 invoices from its own node key. It checks what it is sent (key header, JSON,
 * fields) and writes every deviation from LNbits' API to `problems`. Knobs: mark paid or failed,
 * forget an invoice, fail with a status, hang, answer garbage, answer like LNbits 0.x, tamper with
 * the invoices it makes.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import bolt11 from 'bolt11';

/** BOLT 11 regtest (`lnbcrt`). */
const REGTEST = { bech32: 'bcrt', pubKeyHash: 111, scriptHash: 196, validWitnessVersions: [0, 1] };

/** What to do instead of answering properly. */
export type Failure = { status: number; body?: unknown } | 'hang' | 'garbage';

export interface FakeLnbitsInvoice {
  paymentHash: string;
  preimage: string;
  pr: string;
  amountMsat: number;
  descriptionHash: string;
  memo: string;
  expiresAt: number;
  status: 'pending' | 'success' | 'failed';
}

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: unknown;
}

/** Fields of LNbits' `CreateInvoice` model. */
const CREATE_FIELDS = new Set([
  'unit', 'internal', 'out', 'amount', 'memo', 'description_hash', 'unhashed_description', 'payment_hash', 'expiry', 'extra',
  'webhook', 'bolt11', 'lnurl_withdraw', 'fiat_provider', 'labels',
]);

const HEX = /^(?:[0-9a-f]{2})*$/;

export class FakeLnbits {
  url = '';
  readonly invoiceKey = randomBytes(16).toString('hex');
  readonly invoices = new Map<string, FakeLnbitsInvoice>();
  readonly requests: RecordedRequest[] = [];
  /** Every way a request deviated from LNbits' API. Tests expect it empty. */
  readonly problems: string[] = [];
  /** Applied to every request while set. */
  failure: Failure | undefined;
  /** Answer invoice creation like LNbits 0.x: 200 `{payment_hash, payment_request, checking_id}`. */
  legacy = false;
  /** Make invoices that do not match the request (a misconfigured LNbits). */
  tamper: 'amount' | 'description_hash' | undefined;
  private readonly nodeKey = randomBytes(32);
  private readonly server: Server;
  private readonly hanging = new Set<ServerResponse>();

  private constructor() {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        this.problems.push(`fake crashed: ${(err as Error).message}`);
        if (!res.headersSent) res.writeHead(500).end();
      });
    });
  }

  static async start(): Promise<FakeLnbits> {
    const fake = new FakeLnbits();
    await new Promise<void>((resolve) => fake.server.listen(0, '127.0.0.1', resolve));
    fake.url = `http://127.0.0.1:${(fake.server.address() as AddressInfo).port}`;
    return fake;
  }

  markPaid(paymentHash: string): void {
    this.invoice(paymentHash).status = 'success';
  }

  markFailed(paymentHash: string): void {
    this.invoice(paymentHash).status = 'failed';
  }

  /** Drop the invoice: LNbits then answers 404 for it. */
  forget(paymentHash: string): void {
    this.invoices.delete(paymentHash);
  }

  async close(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private invoice(paymentHash: string): FakeLnbitsInvoice {
    const found = this.invoices.get(paymentHash);
    if (!found) throw new Error(`fake LNbits has no invoice ${paymentHash}`);
    return found;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    let body: unknown;
    if (raw !== '') {
      try {
        body = JSON.parse(raw);
      } catch {
        this.problems.push(`${req.method} ${path}: body is not JSON`);
        return send(res, 400, { detail: 'There was an error parsing the body' });
      }
    }
    this.requests.push({ method: req.method ?? '', path, headers: req.headers, body });

    if (this.failure === 'hang') {
      this.hanging.add(res);
      return;
    }
    if (this.failure === 'garbage') {
      res.writeHead(200, { 'content-type': 'text/html' }).end('<html><body>502 Bad Gateway</body></html>');
      return;
    }
    if (this.failure) return send(res, this.failure.status, this.failure.body ?? { detail: 'Internal Server Error' });

    const key = req.headers['x-api-key'];
    if (req.method === 'POST' && path === '/api/v1/payments') {
      if (!String(req.headers['content-type'] ?? '').startsWith('application/json')) this.problems.push('POST /api/v1/payments: content-type is not application/json');
      if (typeof key !== 'string') return send(res, 401, { detail: 'No Api Key provided.' });
      if (key !== this.invoiceKey) return send(res, 404, { detail: 'Wallet not found.' });
      return this.create(body, res);
    }
    const lookup = /^\/api\/v1\/payments\/([^/]+)$/.exec(path);
    if (req.method === 'GET' && lookup) {
      const hash = lookup[1] as string;
      if (!/^[0-9a-f]{64}$/.test(hash)) this.problems.push(`GET ${path}: not a lowercase hex payment hash`);
      if (typeof key !== 'string') this.problems.push(`GET ${path}: no X-Api-Key (details are only given with the wallet's key)`);
      const invoice = this.invoices.get(hash);
      if (!invoice) return send(res, 404, { detail: 'Payment does not exist.' });
      // The funding source reports an invoice that ran out unpaid as failed.
      if (invoice.status === 'pending' && invoice.expiresAt <= Date.now()) invoice.status = 'failed';
      // Like LNbits, a key of another wallet (or none) gets the public view: no details.
      const details = key === this.invoiceKey ? { details: this.payment(invoice) } : {};
      if (invoice.status === 'success') return send(res, 200, { paid: true, preimage: invoice.preimage, ...details });
      if (invoice.status === 'failed') return send(res, 200, { paid: false, status: 'failed', ...details });
      return send(res, 200, { paid: false, status: 'pending', preimage: null, ...details });
    }
    this.problems.push(`${req.method} ${path}: not an LNbits endpoint the bridge should call`);
    return send(res, 404, { detail: 'Not Found' });
  }

  private create(body: unknown, res: ServerResponse): void {
    const problems: string[] = [];
    const b = (typeof body === 'object' && body !== null && !Array.isArray(body) ? body : {}) as Record<string, unknown>;
    if (b !== body) problems.push('body is not a JSON object');
    for (const field of Object.keys(b)) if (!CREATE_FIELDS.has(field)) problems.push(`unknown field ${field}`);
    if (b['out'] !== false) problems.push('out must be false (an incoming invoice)');
    if (b['unit'] !== 'sat') problems.push('unit must be "sat"');
    const amount = b['amount'];
    if (typeof amount !== 'number' || !Number.isSafeInteger(amount) || amount <= 0) problems.push('amount must be a positive whole number of sats');
    if (b['memo'] !== undefined && (typeof b['memo'] !== 'string' || b['memo'].length > 640)) problems.push('memo must be a string of at most 640 characters');
    const unhashed = b['unhashed_description'];
    if (typeof unhashed !== 'string' || unhashed === '' || !HEX.test(unhashed)) problems.push('unhashed_description must be the hex of the LNURL metadata');
    if (b['description_hash'] !== undefined) problems.push('description_hash is sent as well as unhashed_description');
    const expiry = b['expiry'];
    if (typeof expiry !== 'number' || !Number.isSafeInteger(expiry) || expiry <= 0) problems.push('expiry must be a positive whole number of seconds');
    if (b['webhook'] !== undefined) problems.push('a webhook is asked for, but LNbits webhooks are unsigned and the bridge does not take them');
    if (problems.length > 0) {
      this.problems.push(...problems.map((p) => `POST /api/v1/payments: ${p}`));
      // FastAPI's validation error.
      return send(res, 422, { detail: problems.map((msg) => ({ loc: ['body'], msg, type: 'value_error' })) });
    }

    const preimage = randomBytes(32).toString('hex');
    const paymentHash = createHash('sha256').update(Buffer.from(preimage, 'hex')).digest('hex');
    let descriptionHash = createHash('sha256').update(Buffer.from(unhashed as string, 'hex')).digest('hex');
    let amountMsat = (amount as number) * 1000;
    if (this.tamper === 'amount') amountMsat += 1000;
    if (this.tamper === 'description_hash') descriptionHash = createHash('sha256').update(String(b['memo'] ?? '')).digest('hex');
    const timestamp = Math.floor(Date.now() / 1000);
    const pr = signInvoice(this.nodeKey, { paymentHash, amountMsat, descriptionHash, expirySeconds: expiry as number, timestamp });
    const invoice: FakeLnbitsInvoice = {
      paymentHash,
      preimage,
      pr,
      amountMsat,
      descriptionHash,
      memo: '',
      expiresAt: (timestamp + (expiry as number)) * 1000,
      status: 'pending',
    };
    this.invoices.set(paymentHash, invoice);
    if (this.legacy) return send(res, 200, { payment_hash: paymentHash, payment_request: pr, checking_id: paymentHash, lnurl_response: null });
    return send(res, 201, this.payment(invoice));
  }

  /** LNbits 1.x `Payment`. */
  private payment(invoice: FakeLnbitsInvoice): Record<string, unknown> {
    return {
      checking_id: invoice.paymentHash,
      payment_hash: invoice.paymentHash,
      wallet_id: 'fakewallet0000000000000000000000',
      amount: invoice.amountMsat,
      fee: 0,
      bolt11: invoice.pr,
      payment_request: invoice.pr,
      status: invoice.status,
      memo: invoice.memo,
      expiry: new Date(invoice.expiresAt).toISOString(),
      preimage: invoice.status === 'success' ? invoice.preimage : null,
      extra: {},
    };
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

/** A signed regtest BOLT 11 invoice committing to a description hash (LUD-06). */
export function signInvoice(
  nodeKey: Buffer,
  o: { paymentHash: string; amountMsat: number; descriptionHash: string; expirySeconds: number; timestamp: number },
): string {
  const unsigned = bolt11.encode({
    network: REGTEST,
    millisatoshis: String(o.amountMsat),
    timestamp: o.timestamp,
    tags: [
      { tagName: 'payment_hash', data: o.paymentHash },
      { tagName: 'purpose_commit_hash', data: o.descriptionHash },
      { tagName: 'payment_secret', data: randomBytes(32).toString('hex') },
      { tagName: 'expire_time', data: o.expirySeconds },
      { tagName: 'min_final_cltv_expiry', data: 18 },
      {
        tagName: 'feature_bits',
        data: { word_length: 4, var_onion_optin: { required: false, supported: true }, payment_secret: { required: true, supported: true } },
      },
    ],
  } as unknown as bolt11.PaymentRequestObject);
  return bolt11.sign(unsigned, nodeKey).paymentRequest as string;
}
