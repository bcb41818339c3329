/**
 * A stand-in LNbits for tests, on port 0: one wallet with an invoice key, speaking the two calls of
 * the LNbits payments API the bridge uses (`POST /api/v1/payments` with `out: false`, `GET
 * /api/v1/payments/{payment_hash}`) with the answers and errors of LNbits 0.12, 1.0-1.3 or 1.4+
 * (`lnbits/core/views/payment_api.py`, `lnbits/core/models/payments.py`, `lnbits/exceptions.py`):
 * 201 on creation, validation errors as 400 `{"detail": "<text>"}`, unknown fields ignored, an
 * unknown hash 404 "Payment does not exist.", a path without a route 404 "Not Found". It makes real
 * signed regtest BOLT 11 invoices from its own node key, checks what it is sent (key header, JSON,
 * fields) and writes every deviation from LNbits' API to `problems`. Knobs: the version, mark paid or
 * failed, forget an invoice, fail with a status, hang, answer garbage, tamper with the invoices it
 * makes.
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

/**
 * Which LNbits: `0.12` answers creation `{payment_hash, payment_request, checking_id,
 * lnurl_response}`; `1.0` (1.0-1.3) a Payment with `bolt11` and no `payment_request`; `1.5` (1.4+) a
 * Payment with both.
 */
export type LnbitsVersion = '0.12' | '1.0' | '1.5';

/** Fields of LNbits' `CreateInvoice` model (pydantic: any other field is ignored). */
const CREATE_FIELDS = new Set([
  'unit',
  'internal',
  'out',
  'amount',
  'memo',
  'description_hash',
  'unhashed_description',
  'payment_hash',
  'expiry',
  'extra',
  'webhook',
  'bolt11',
  'lnurl_withdraw',
  'fiat_provider',
  'labels',
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
  version: LnbitsVersion = '1.5';
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
      if (!String(req.headers['content-type'] ?? '').startsWith('application/json'))
        this.problems.push('POST /api/v1/payments: content-type is not application/json');
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
      // 0.12: `{"paid": not payment.pending, "preimage": …}` and nothing else.
      if (this.version === '0.12')
        return send(res, 200, { paid: invoice.status === 'success', preimage: invoice.status === 'success' ? invoice.preimage : null, ...details });
      if (invoice.status === 'success') return send(res, 200, { paid: true, preimage: invoice.preimage, ...details });
      if (invoice.status === 'failed') return send(res, 200, { paid: false, status: 'failed', ...details });
      return send(res, 200, { paid: false, status: 'pending', preimage: null, ...details });
    }
    this.problems.push(`${req.method} ${path}: not an LNbits endpoint the bridge should call`);
    return send(res, 404, { detail: 'Not Found' });
  }

  private create(body: unknown, res: ServerResponse): void {
    // What LNbits refuses (400), and what it takes anyway though the bridge should not send it.
    const refused: string[] = [];
    const ignored: string[] = [];
    const b = (typeof body === 'object' && body !== null && !Array.isArray(body) ? body : {}) as Record<string, unknown>;
    if (b !== body) refused.push('body is not a JSON object');
    for (const field of Object.keys(b)) if (!CREATE_FIELDS.has(field)) ignored.push(`unknown field ${field} (LNbits ignores it)`);
    if (b['out'] !== false) refused.push('out must be false (an incoming invoice)');
    if (b['unit'] !== 'sat') refused.push('unit must be "sat"');
    const amount = b['amount'];
    if (typeof amount !== 'number' || !Number.isSafeInteger(amount) || amount <= 0) refused.push('amount must be a positive whole number of sats');
    if (b['memo'] !== undefined && (typeof b['memo'] !== 'string' || b['memo'].length > 640)) refused.push('memo must be a string of at most 640 characters');
    const unhashed = b['unhashed_description'];
    if (unhashed === undefined) ignored.push('no unhashed_description: LNbits makes an invoice for the memo');
    else if (typeof unhashed !== 'string' || unhashed === '' || !HEX.test(unhashed)) refused.push("'unhashed_description' must be a valid hex string");
    if (b['description_hash'] !== undefined) ignored.push('description_hash is sent as well as unhashed_description');
    const expiry = b['expiry'];
    if (typeof expiry !== 'number' || !Number.isSafeInteger(expiry) || expiry <= 0) refused.push('expiry must be a positive whole number of seconds');
    if (b['webhook'] !== undefined) ignored.push('a webhook is asked for, but LNbits webhooks are unsigned and the bridge does not take them');
    this.problems.push(...[...refused, ...ignored].map((p) => `POST /api/v1/payments: ${p}`));
    if (refused.length > 0) {
      // `lnbits/exceptions.py`: RequestValidationError (and ValueError) answer 400 `{"detail": str(exc)}`.
      return send(res, 400, { detail: `${refused.length} validation error${refused.length > 1 ? 's' : ''} for CreateInvoice\n${refused.join('\n')}` });
    }

    const preimage = randomBytes(32).toString('hex');
    const paymentHash = createHash('sha256').update(Buffer.from(preimage, 'hex')).digest('hex');
    const memo = typeof b['memo'] === 'string' ? b['memo'] : 'LNbits';
    let descriptionHash = typeof unhashed === 'string' ? createHash('sha256').update(Buffer.from(unhashed, 'hex')).digest('hex') : null;
    let amountMsat = (amount as number) * 1000;
    if (this.tamper === 'amount') amountMsat += 1000;
    if (this.tamper === 'description_hash') descriptionHash = createHash('sha256').update(memo).digest('hex');
    const timestamp = Math.floor(Date.now() / 1000);
    const pr = signInvoice(this.nodeKey, { paymentHash, amountMsat, descriptionHash, description: memo, expirySeconds: expiry as number, timestamp });
    const invoice: FakeLnbitsInvoice = {
      paymentHash,
      preimage,
      pr,
      amountMsat,
      descriptionHash: descriptionHash ?? '',
      memo: '',
      expiresAt: (timestamp + (expiry as number)) * 1000,
      status: 'pending',
    };
    this.invoices.set(paymentHash, invoice);
    // `status_code=HTTPStatus.CREATED` in every version.
    if (this.version === '0.12') return send(res, 201, { payment_hash: paymentHash, payment_request: pr, checking_id: paymentHash, lnurl_response: null });
    return send(res, 201, this.payment(invoice));
  }

  /** LNbits 1.x `Payment` (`payment_request` only from 1.4). */
  private payment(invoice: FakeLnbitsInvoice): Record<string, unknown> {
    return {
      checking_id: invoice.paymentHash,
      payment_hash: invoice.paymentHash,
      wallet_id: 'fakewallet0000000000000000000000',
      amount: invoice.amountMsat,
      fee: 0,
      bolt11: invoice.pr,
      ...(this.version === '1.5' ? { payment_request: invoice.pr } : {}),
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

/** A signed regtest BOLT 11 invoice committing to a description hash (LUD-06), or else carrying a plain description. */
export function signInvoice(
  nodeKey: Buffer,
  o: { paymentHash: string; amountMsat: number; descriptionHash: string | null; description?: string; expirySeconds: number; timestamp: number },
): string {
  const unsigned = bolt11.encode({
    network: REGTEST,
    millisatoshis: String(o.amountMsat),
    timestamp: o.timestamp,
    tags: [
      { tagName: 'payment_hash', data: o.paymentHash },
      o.descriptionHash !== null ? { tagName: 'purpose_commit_hash', data: o.descriptionHash } : { tagName: 'description', data: o.description ?? '' },
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
