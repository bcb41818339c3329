/**
 * The LND backend, over LND's REST proxy (`Grpc-Metadata-macaroon: <hex>`, an invoice macaroon is
 * enough): `POST /v1/invoices` with the metadata's `description_hash`, `GET /v2/invoices/lookup`
 * (or `GET /v1/invoice/{r_hash_str}` on a node without it), and the invoice stream
 * `GET /v1/invoices/subscribe` to push settlements as they happen (polling still runs beside it). A
 * node with a self-signed certificate is trusted through its `tls.cert` (PEM).
 * Ref: https://lightning.engineering/api-docs/api/lnd/ ; checked against lnd master (grpc-gateway v2):
 * `rpcserver.go`, `lnrpc/invoicesrpc/invoices_server.go`, `lnrpc/lightning.pb.gw.go`,
 * `invoices/invoiceregistry.go`, and grpc-gateway `runtime/errors.go`.
 */
import { X509Certificate } from 'node:crypto';
import { z } from 'zod';
import {
  BackendError,
  type BackendContext,
  type BackendSpec,
  type CreatedInvoice,
  type InvoiceRequest,
  type InvoiceState,
  type LightningBackend,
  type SettledListener,
} from './backend.js';
import { httpJson, streamJsonLines, type HttpResult } from './http.js';
import { checkInvoice, HEX32, provenPreimage } from './invoice-check.js';

const PEM_CERT = /^-----BEGIN CERTIFICATE-----[\s\S]+-----END CERTIFICATE-----$/;

/** PEM text of `tls.cert`; `\n` written out (as in a one-line env file) counts as a line break. */
const tlsCert = z
  .string()
  .max(20_000)
  .transform((text) => text.replace(/\\n/g, '\n').trim())
  .refine((pem) => PEM_CERT.test(pem) && parses(pem), "must be the PEM text of the node's tls.cert (-----BEGIN CERTIFICATE----- …)");

function parses(pem: string): boolean {
  try {
    new X509Certificate(pem);
    return true;
  } catch {
    return false;
  }
}

export const lndSettings = z.strictObject({
  url: z.url({ protocol: /^https?$/, error: "must be an http(s) URL (LND's REST address, e.g. https://node:8080)" }).max(2000),
  tls_cert: tlsCert.optional(),
});

export const lndSecrets = z.strictObject({
  macaroon: z.string().regex(/^(?:[0-9a-fA-F]{2}){8,8192}$/, 'must be the hex of a macaroon (xxd -p -c 10000 invoice.macaroon)'),
});

export type LndSettings = { url: string; tls_cert?: string };
export type LndSecrets = z.infer<typeof lndSecrets>;

export interface LndOptions {
  /** First delay before the invoice stream is opened again; it doubles up to `reconnectMaxMs`. */
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  /**
   * How long the node may take to answer before the invoice stream is (re)opened (default: the
   * request timeout). The stream itself has no deadline: LND's REST gateway sends its response
   * headers only with the first invoice event, so a quiet node's stream has none for as long as
   * nothing happens, and that is healthy. Reachability is asked first instead, with one lookup.
   */
  streamConnectTimeoutMs?: number;
}

/**
 * grpc-gateway's server-stream handlers call `stream.Header()` before writing any HTTP response
 * (lnd `lnrpc/lightning.pb.gw.go`, `request_Lightning_SubscribeInvoices_0`), and gRPC sends headers
 * with the first message: no invoice event, no headers. The stream waits for them without a limit
 * (the longest a Node timer takes); the node's reachability was checked just before.
 */
const STREAM_HEADERS_WAIT_MS = 2_147_483_647;

/** The all-zero payment hash: looked up to learn whether the node answers, and by which route. */
const ZERO_HASH = '0'.repeat(64);

const INT = z.union([z.string().regex(/^\d{1,20}$/), z.number().int().nonnegative()]);

/** lnrpc.Invoice, as the REST proxy writes it (bytes as base64, 64-bit integers as strings). */
const invoice = z.looseObject({
  r_hash: z.string(),
  r_preimage: z.string().nullish(),
  state: z.string().optional(),
  settled: z.boolean().optional(),
  settle_index: INT.optional(),
});
type LndInvoice = z.infer<typeof invoice>;

/** lnrpc.AddInvoiceResponse. */
const added = z.looseObject({ r_hash: z.string(), payment_request: z.string().min(1) });

/** One line of the invoice stream: `{"result": Invoice}` or `{"error": Status}`. */
const streamLine = z.looseObject({ result: invoice.optional(), error: z.unknown().optional() });

/** grpc-gateway error body (google.rpc.Status). */
const status = z.looseObject({ code: z.number().optional(), message: z.string().optional() });

/**
 * LND's own answers that it has no such invoice: `invoices.ErrInvoiceNotFound` ("unable to locate
 * invoice") and `ErrNoInvoicesCreated` ("there are no existing invoices"). lnd master maps the first
 * to gRPC NotFound, HTTP 404 (`rpcserver.go` LookupInvoice, `invoicesrpc/invoices_server.go`
 * LookupInvoiceV2); older nodes returned the plain error, gRPC Unknown, HTTP 500.
 */
const INVOICE_UNKNOWN = /unable to locate invoice|there are no existing invoices/i;

/**
 * A path the REST gateway has no route for: grpc-gateway v2 `runtime/errors.go`
 * `DefaultRoutingErrorHandler` answers 404 `{"code": 5, "message": "Not Found"}`. That is what
 * `/v2/invoices/lookup` answers on LND before 0.14 or built without the `invoicesrpc` tag
 * (`lnrpc/invoicesrpc/invoices_server.go` is `//go:build invoicesrpc`): not "invoice unknown".
 */
function noSuchRoute(res: HttpResult<unknown>): boolean {
  const body = status.safeParse(res.body);
  return res.status === 404 && body.success && body.data.code === 5 && body.data.message === 'Not Found';
}

function invoiceUnknown(res: HttpResult<unknown>): boolean {
  const body = status.safeParse(res.body);
  return (res.status === 404 || res.status === 500) && body.success && INVOICE_UNKNOWN.test(body.data.message ?? '');
}

/** The node answers neither invoice lookup route: the one answer `check()` passes on. */
class NoInvoiceLookup extends BackendError {}

export class LndBackend implements LightningBackend {
  readonly kind = 'lnd' as const;
  private readonly base: string;
  private readonly headers: Record<string, string>;
  private readonly ca: string | undefined;
  private readonly timeoutMs: number;
  private readonly reconnectMinMs: number;
  private readonly reconnectMaxMs: number;
  private readonly streamConnectTimeoutMs: number;
  /** Where this node looks invoices up: v2 until it answers that it has no such route. */
  private lookupRoute: 'v2' | 'v1' = 'v2';
  private readonly outbound: BackendContext['outbound'];

  constructor(settings: LndSettings, secrets: LndSecrets, context: Pick<BackendContext, 'timeoutMs' | 'outbound'>, options: LndOptions = {}) {
    this.base = settings.url.replace(/\/+$/, '');
    this.headers = { 'Grpc-Metadata-macaroon': secrets.macaroon };
    this.ca = settings.tls_cert;
    this.timeoutMs = context.timeoutMs;
    this.outbound = context.outbound;
    this.reconnectMinMs = options.reconnectMinMs ?? 1000;
    this.reconnectMaxMs = options.reconnectMaxMs ?? 30_000;
    this.streamConnectTimeoutMs = options.streamConnectTimeoutMs ?? context.timeoutMs;
  }

  async createInvoice(request: InvoiceRequest): Promise<CreatedInvoice> {
    if (!Number.isSafeInteger(request.amountMsat) || request.amountMsat <= 0) {
      throw new BackendError('lnd', `cannot make an invoice for ${request.amountMsat} msat`, { transient: false });
    }
    const res = await httpJson('lnd', `${this.base}/v1/invoices`, {
      method: 'POST',
      headers: this.headers,
      json: {
        value_msat: String(request.amountMsat),
        // LUD-06 / BOLT 11 `h`: LND puts these 32 bytes in the invoice instead of the memo.
        description_hash: Buffer.from(request.descriptionHash, 'hex').toString('base64'),
        expiry: String(request.expirySeconds),
        memo: request.memo.slice(0, 256),
      },
      timeoutMs: this.timeoutMs,
      ca: this.ca,
      outbound: this.outbound,
    });
    if (res.status !== 200) throw failure(res, 'create an invoice');
    const body = added.safeParse(res.body);
    const paymentHash = body.success ? bytesHex(body.data.r_hash) : null;
    if (!body.success || !paymentHash) throw new BackendError('lnd', 'answered AddInvoice without an r_hash and payment_request', { transient: false });
    const pr = body.data.payment_request;
    const invoice = checkInvoice('lnd', pr, { ...request, paymentHash }, 'LND');
    return { paymentHash, pr, expiresAt: invoice.expiresAt, ref: null };
  }

  async lookupInvoice(paymentHash: string): Promise<InvoiceState> {
    if (!HEX32.test(paymentHash)) throw new BackendError('lnd', `not a payment hash: ${JSON.stringify(paymentHash)}`, { transient: false });
    const res = await this.fetchInvoice(paymentHash, this.timeoutMs);
    // Dead only on LND's own "no such invoice"; any other 404 is a fault, not a verdict.
    if (invoiceUnknown(res)) return { settled: false, preimage: null, dead: true };
    if (res.status !== 200) throw failure(res, 'look the invoice up');
    const body = invoice.safeParse(res.body);
    if (!body.success) throw new BackendError('lnd', 'answered the invoice lookup without an Invoice', { transient: false });
    if (isSettled(body.data)) {
      // An open invoice carries its preimage too; a settled one must carry the one that proves it.
      const preimage = lndPreimage(body.data, paymentHash);
      if (!preimage) throw new BackendError('lnd', 'reports the invoice settled with a preimage that does not match its hash', { transient: false });
      return { settled: true, preimage, dead: false };
    }
    return { settled: false, preimage: null, dead: body.data.state === 'CANCELED' };
  }

  /** At wallet save: refuse a node that answers but has no invoice lookup (pending payments could never be checked). */
  async check(): Promise<void> {
    try {
      await this.fetchInvoice(ZERO_HASH, this.timeoutMs);
    } catch (err) {
      if (err instanceof NoInvoiceLookup) throw err;
    }
  }

  /**
   * Whether the node answers at all, within `streamConnectTimeoutMs`: a lookup of the all-zero hash,
   * which also learns the node's lookup route. Any answer counts, refusals included; no answer, or
   * one that is not JSON, does not.
   */
  private async answers(): Promise<boolean> {
    try {
      await this.fetchInvoice(ZERO_HASH, this.streamConnectTimeoutMs);
      return true;
    } catch (err) {
      return err instanceof BackendError && !err.transient;
    }
  }

  /**
   * GET the invoice by the route this node has: `/v2/invoices/lookup` (LND 0.14+ built with
   * `invoicesrpc`), else `/v1/invoice/{r_hash_str}` (hex; every LND). A node that has neither is not
   * LND's REST proxy as we know it: say so, and never call its invoices dead.
   */
  private async fetchInvoice(paymentHash: string, timeoutMs: number): Promise<HttpResult<unknown>> {
    const options = { headers: this.headers, timeoutMs, ca: this.ca, outbound: this.outbound };
    if (this.lookupRoute === 'v2') {
      // LND wants base64 with the URL-safe alphabet and its `=` padding kept: `+` would read as a space.
      const hash = Buffer.from(paymentHash, 'hex').toString('base64').replace(/\+/g, '-').replace(/\//g, '_');
      const res = await httpJson('lnd', `${this.base}/v2/invoices/lookup?payment_hash=${hash}`, options);
      if (!noSuchRoute(res)) return res;
      this.lookupRoute = 'v1';
    }
    const res = await httpJson('lnd', `${this.base}/v1/invoice/${paymentHash}`, options);
    if (noSuchRoute(res)) {
      throw new NoInvoiceLookup(
        'lnd',
        'the node has no invoice lookup: its REST gateway answers 404 "Not Found" to both /v2/invoices/lookup and /v1/invoice/{r_hash_str}; is the URL LND\'s REST address (port 8080 by default)?',
        { transient: false },
      );
    }
    return res;
  }

  /**
   * Push settlements from LND's invoice stream. Before each (re)open the node must answer a lookup;
   * the stream then waits for its first event without a limit. It is opened again after it ends or
   * fails (1 s, doubling to 30 s; back to 1 s after a healthy stream: one that carried events or
   * stayed open 30 s), from the last settle index seen so settlements made while it was down are
   * replayed. Only settlements whose preimage hashes to the payment hash are pushed.
   */
  watch(onSettled: SettledListener): () => Promise<void> {
    let stopped = false;
    let wake: (() => void) | undefined;
    let onStop: () => void = () => undefined;
    const stopping = new Promise<void>((resolve) => {
      onStop = resolve;
    });
    let current: { stop: () => void } | undefined;
    let settleIndex = 0n;

    const onLine = (value: unknown): boolean => {
      const line = streamLine.safeParse(value);
      if (!line.success || line.data.error !== undefined) return false;
      const update = line.data.result;
      if (!update || !isSettled(update)) return true;
      const hash = bytesHex(update.r_hash);
      const preimage = hash ? lndPreimage(update, hash) : null;
      if (!hash || !preimage) return true;
      const index = update.settle_index === undefined ? 0n : BigInt(update.settle_index);
      if (index > settleIndex) settleIndex = index;
      try {
        onSettled(hash, preimage);
      } catch {
        // The listener's failure is its own business; the stream goes on.
      }
      return true;
    };

    const run = async (): Promise<void> => {
      let delay = this.reconnectMinMs;
      while (!stopped) {
        let opened = 0;
        let heard = false;
        // LND replays every settlement with a settle_index above this one.
        const url = `${this.base}/v1/invoices/subscribe${settleIndex > 0n ? `?settle_index=${settleIndex}` : ''}`;
        try {
          // The stream has no deadline of its own (STREAM_HEADERS_WAIT_MS): only a node that answers gets one.
          const answers = await Promise.race([this.answers(), stopping.then(() => false)]);
          if (stopped) return;
          if (!answers) throw new Error('the node does not answer');
          opened = Date.now();
          const stream = streamJsonLines(
            'lnd',
            url,
            { headers: this.headers, ca: this.ca, connectTimeoutMs: STREAM_HEADERS_WAIT_MS, outbound: this.outbound },
            (value) => {
              if (stopped) return;
              if (onLine(value)) heard = true;
              else current?.stop(); // `{"error": …}`: LND ended the subscription.
            },
          );
          current = stream;
          await new Promise<void>((resolve) => {
            wake = resolve;
            stream.done.then(resolve, resolve);
          });
        } catch {
          // Unreachable, or could not even open it (a bad URL): try again later like any failure.
        }
        current?.stop();
        current = undefined;
        if (stopped) return;
        // A stream that carried events, or stayed open a while, was healthy: start the back-off over.
        if (heard || (opened > 0 && Date.now() - opened >= this.reconnectMaxMs)) delay = this.reconnectMinMs;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, delay);
          timer.unref();
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        delay = Math.min(delay * 2, this.reconnectMaxMs);
      }
    };

    const running = run();
    return async () => {
      stopped = true;
      onStop();
      current?.stop();
      wake?.();
      await running;
    };
  }
}

function isSettled(update: LndInvoice): boolean {
  return update.state !== undefined ? update.state === 'SETTLED' : update.settled === true;
}

/** Hex of a 32-byte field LND wrote as base64, or null. */
function bytesHex(base64: string | null | undefined): string | null {
  if (!base64 || !/^[A-Za-z0-9+/_-]+={0,2}$/.test(base64)) return null;
  const bytes = Buffer.from(base64, 'base64');
  return bytes.length === 32 ? bytes.toString('hex') : null;
}

/** The invoice's preimage (hex) when sha256 of it is the payment hash, else null. */
function lndPreimage(update: LndInvoice, paymentHash: string): string | null {
  return provenPreimage(bytesHex(update.r_preimage), paymentHash);
}

/**
 * LND's plain errors (gRPC Unknown) that say the node is not ready yet: lnd `rpcperms/interceptor.go`
 * ErrWaitingToStart, ErrNoWallet, ErrWalletLocked, ErrRPCStarting (the list lightninglabs/lndclient
 * keeps as lnd13UnlockErrors), and `rpcserver.go` ErrServerNotActive.
 */
const NOT_READY = /waiting to start|wallet not created|wallet locked|not yet ready|in the process of starting|still syncing/i;

/**
 * A non-success answer as a BackendError. LND refuses a bad or missing macaroon with HTTP 500 and
 * gRPC code 2 ("verification failed: signature mismatch…", "expected 1 macaroon, got 0",
 * "permission denied"): permanent. LND's own refusals of a request are plain Go errors, which the
 * gateway answers as gRPC Unknown (2), HTTP 500 (e.g. `lnrpc/invoicesrpc/addinvoice.go`: "expiry of …
 * seconds greater than max expiry of … seconds", "memo too large"): permanent too, but for the
 * node-not-ready ones. Other server faults (gateway code 14 Unavailable, 502-504) are not.
 */
function failure(res: HttpResult<unknown>, what: string): BackendError {
  const parsed = status.safeParse(res.body);
  const message = parsed.success && parsed.data.message ? parsed.data.message.slice(0, 200) : '';
  const detail = message ? `: ${message}` : '';
  if (res.status === 401 || res.status === 403 || /macaroon|verification failed|permission denied/i.test(message)) {
    return new BackendError('lnd', `refused the macaroon (HTTP ${res.status}${detail}) when asked to ${what}`, { transient: false });
  }
  if (res.status === 500 && parsed.success && parsed.data.code === 2 && message !== '' && !NOT_READY.test(message)) {
    return new BackendError('lnd', `refused to ${what} (HTTP 500${detail})`, { transient: false });
  }
  return new BackendError('lnd', `could not ${what}: HTTP ${res.status}${detail}`, { transient: res.status >= 500 || res.status === 429 });
}

export const lndSpec: BackendSpec<LndSettings, LndSecrets> = {
  kind: 'lnd',
  description: 'LND node over REST (invoice macaroon, optional tls.cert); settlements pushed by the invoice stream',
  settings: lndSettings as z.ZodType<LndSettings>,
  secrets: lndSecrets,
  env: { url: 'LND_REST_URL', tls_cert: 'LND_TLS_CERT', macaroon: 'LND_MACAROON' },
  create: (settings, secrets, context) => new LndBackend(settings, secrets, context),
};
