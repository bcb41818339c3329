/**
 * A stand-in for a remote Lightning-address service (what `you@getalby.com` points at), on port 0:
 * LUD-16 `/.well-known/lnurlp/<name>` payRequests (LUD-06), a callback that makes real signed BOLT 11
 * regtest invoices from its own node key, and LUD-21 verify URLs. It checks what it is sent (a GET,
 * no body, a whole `amount` within bounds, an allowed `comment`, no stray parameters) and records
 * violations; knobs make it fail, hang, answer garbage, mint bad invoices or lie about settlement.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import bolt11 from 'bolt11';

/** BOLT 11 regtest (`lnbcrt`). */
const REGTEST = { bech32: 'bcrt', pubKeyHash: 111, scriptHash: 196, validWitnessVersions: [0, 1] };

export interface FakeUser {
  metadata: string;
  minSendable: number;
  maxSendable: number;
  commentAllowed: number;
}

/** How an endpoint answers: normally, with an HTTP status (and an empty JSON body), never, or not in JSON. */
export type Failure = number | 'hang' | 'garbage' | 'lnurl-error';

export type CallbackMode = 'ok' | Failure | 'wrong-hash' | 'wrong-amount' | 'no-verify' | 'bad-pr';
export type VerifyMode = 'ok' | Failure | 'lie' | 'other-pr' | 'no-preimage';

export interface FakeInvoice {
  paymentHash: string;
  preimage: string;
  pr: string;
  amountMsat: number;
  settled: boolean;
}

export interface SeenRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: Record<string, string | string[] | undefined>;
}

export interface LnurlService {
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** `127.0.0.1:<port>`: the domain part of its Lightning addresses. */
  host: string;
  users: Map<string, FakeUser>;
  invoices: Map<string, FakeInvoice>;
  requests: SeenRequest[];
  /** What a client sent that LUD-06/12/16/21 does not allow; a test expects this empty. */
  violations: string[];
  payRequestMode: 'ok' | Failure;
  callbackMode: CallbackMode;
  verifyMode: VerifyMode;
  errorReason: string;
  /** Fields merged into every payRequest (to serve invalid ones). */
  payRequestOverrides: Record<string, unknown>;
  /** A query the callback URL already carries (LUD-06 allows one), e.g. `k=v`. */
  callbackQuery: string;
  /** `x` of the invoices it makes. */
  invoiceExpirySeconds: number;
  /** Add a user; its address is `<name>@<host>`. */
  addUser(name: string, user?: Partial<FakeUser>): string;
  /** The user's node paid the invoice. */
  pay(paymentHash: string): void;
  /** Forget an invoice (verify then answers 404). */
  forget(paymentHash: string): void;
  /** Stop listening (hanging requests are cut); `url` then refuses connections. */
  close(): Promise<void>;
}

/** A real signed regtest invoice, committing to `descriptionHash`. */
export function signInvoice(nodeKey: Buffer, amountMsat: number, descriptionHash: string, paymentHash: string, expirySeconds: number): string {
  const unsigned = bolt11.encode({
    network: REGTEST,
    millisatoshis: String(amountMsat),
    timestamp: Math.floor(Date.now() / 1000),
    tags: [
      { tagName: 'payment_hash', data: paymentHash },
      { tagName: 'purpose_commit_hash', data: descriptionHash },
      { tagName: 'payment_secret', data: randomBytes(32).toString('hex') },
      { tagName: 'expire_time', data: expirySeconds },
      { tagName: 'min_final_cltv_expiry', data: 40 },
      {
        tagName: 'feature_bits',
        data: { word_length: 4, var_onion_optin: { required: false, supported: true }, payment_secret: { required: true, supported: true } },
      },
    ],
  } as unknown as bolt11.PaymentRequestObject);
  return bolt11.sign(unsigned, nodeKey).paymentRequest as string;
}

const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

export async function startLnurlService(): Promise<LnurlService> {
  const nodeKey = randomBytes(32);
  const hanging = new Set<ServerResponse>();
  const service: LnurlService = {
    url: '',
    host: '',
    users: new Map(),
    invoices: new Map(),
    requests: [],
    violations: [],
    payRequestMode: 'ok',
    callbackMode: 'ok',
    verifyMode: 'ok',
    errorReason: 'Service temporarily refuses payments',
    payRequestOverrides: {},
    callbackQuery: '',
    invoiceExpirySeconds: 600,
    addUser(name, user = {}) {
      const address = `${name}@${service.host}`;
      service.users.set(name, {
        metadata: JSON.stringify([
          ['text/plain', `Pay ${name} on the fake service`],
          ['text/identifier', address],
        ]),
        minSendable: 1_000,
        maxSendable: 100_000_000,
        commentAllowed: 0,
        ...user,
      });
      return address;
    },
    pay(paymentHash) {
      const invoice = service.invoices.get(paymentHash);
      if (!invoice) throw new Error(`fake lnurl service: no invoice ${paymentHash}`);
      invoice.settled = true;
    },
    forget(paymentHash) {
      service.invoices.delete(paymentHash);
    },
    close: async () => undefined,
  };

  const send = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  };
  /** Answers a failure mode; false when the mode is not a failure. */
  const fail = (res: ServerResponse, mode: string | number): boolean => {
    if (mode === 'hang') hanging.add(res);
    else if (mode === 'garbage') res.writeHead(200, { 'content-type': 'text/html' }).end('<html>502 Bad Gateway</html>');
    else if (mode === 'lnurl-error') send(res, 200, { status: 'ERROR', reason: service.errorReason });
    else if (typeof mode === 'number') send(res, mode, {});
    else return false;
    return true;
  };
  const lnurlError = (res: ServerResponse, reason: string) => {
    service.violations.push(reason);
    send(res, 400, { status: 'ERROR', reason });
  };

  const server = createServer((req, res) => {
    let bodyBytes = 0;
    req.on('data', (c: Buffer) => (bodyBytes += c.length));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://fake');
      service.requests.push({ method: req.method ?? '', path: url.pathname, query: url.searchParams, headers: req.headers });
      // LUD-06/16/21: every endpoint is a plain GET.
      if (req.method !== 'GET' || bodyBytes > 0)
        return lnurlError(res, `${req.method} ${url.pathname} with a ${bodyBytes}-byte body: LNURL endpoints are GETs`);
      let m = /^\/\.well-known\/lnurlp\/([^/]+)$/.exec(url.pathname);
      if (m) {
        const user = service.users.get(m[1] as string);
        if (!user) return send(res, 404, { status: 'ERROR', reason: 'Unknown user' });
        if (fail(res, service.payRequestMode)) return;
        // LUD-06 payRequest.
        const query = service.callbackQuery ? `?${service.callbackQuery}` : '';
        return send(res, 200, {
          tag: 'payRequest',
          callback: `${service.url}/lnurlp/${m[1]}/callback${query}`,
          minSendable: user.minSendable,
          maxSendable: user.maxSendable,
          metadata: user.metadata,
          commentAllowed: user.commentAllowed,
          ...service.payRequestOverrides,
        });
      }
      m = /^\/lnurlp\/([^/]+)\/callback$/.exec(url.pathname);
      if (m) {
        const user = service.users.get(m[1] as string);
        if (!user) return send(res, 404, { status: 'ERROR', reason: 'Unknown user' });
        const expected = new URLSearchParams(service.callbackQuery);
        for (const [k, v] of expected) if (url.searchParams.get(k) !== v) return lnurlError(res, `the callback's own query ${k}=${v} was lost`);
        for (const k of url.searchParams.keys()) {
          if (k !== 'amount' && k !== 'comment' && !expected.has(k)) return lnurlError(res, `unexpected callback parameter ${k}`);
        }
        const amountParam = url.searchParams.getAll('amount');
        if (amountParam.length !== 1 || !/^\d+$/.test(amountParam[0] as string)) return lnurlError(res, 'amount must be given once, in whole millisatoshis');
        const amountMsat = Number(amountParam[0]);
        if (amountMsat < user.minSendable || amountMsat > user.maxSendable)
          return lnurlError(res, `amount ${amountMsat} is outside ${user.minSendable}..${user.maxSendable}`);
        const comment = url.searchParams.get('comment');
        // LUD-12.
        if (comment !== null && (user.commentAllowed === 0 || [...comment].length > user.commentAllowed)) {
          return lnurlError(res, `comment of ${[...comment].length} characters; ${user.commentAllowed} allowed`);
        }
        if (fail(res, service.callbackMode)) return;
        const preimage = randomBytes(32);
        const paymentHash = sha256(preimage);
        const mode = service.callbackMode;
        const hash = mode === 'wrong-hash' ? sha256(`${user.metadata} `) : sha256(user.metadata);
        const pr = signInvoice(nodeKey, mode === 'wrong-amount' ? amountMsat + 1000 : amountMsat, hash, paymentHash, service.invoiceExpirySeconds);
        service.invoices.set(paymentHash, { paymentHash, preimage: preimage.toString('hex'), pr, amountMsat, settled: false });
        return send(res, 200, {
          pr: mode === 'bad-pr' ? 'lnbcrt1notaninvoice' : pr,
          routes: [],
          // LUD-21.
          ...(mode === 'no-verify' ? {} : { verify: `${service.url}/verify/${paymentHash}` }),
        });
      }
      m = /^\/verify\/([0-9a-f]{64})$/.exec(url.pathname);
      if (m) {
        if (fail(res, service.verifyMode)) return;
        const invoice = service.invoices.get(m[1] as string);
        if (!invoice) return send(res, 404, { status: 'ERROR', reason: 'Not found' });
        const mode = service.verifyMode;
        if (mode === 'lie') return send(res, 200, { status: 'OK', settled: true, preimage: randomBytes(32).toString('hex'), pr: invoice.pr });
        if (mode === 'no-preimage') return send(res, 200, { status: 'OK', settled: true, preimage: null, pr: invoice.pr });
        if (mode === 'other-pr') {
          const other = [...service.invoices.values()].find((i) => i.paymentHash !== invoice.paymentHash);
          return send(res, 200, { status: 'OK', settled: true, preimage: other?.preimage ?? null, pr: other?.pr ?? 'lnbcrt1none' });
        }
        return send(res, 200, { status: 'OK', settled: invoice.settled, preimage: invoice.settled ? invoice.preimage : null, pr: invoice.pr });
      }
      send(res, 404, { status: 'ERROR', reason: 'No such endpoint' });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  service.host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  service.url = `http://${service.host}`;
  service.close = () =>
    new Promise<void>((resolve) => {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return service;
}
