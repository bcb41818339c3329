/**
 * The Lightning-address proxy backend (`lnaddress`): an account that already receives at a Lightning
 * address elsewhere (`you@getalby.com`) is paid there. The bridge still serves the asset's own LNURL
 * link, but with the remote service's metadata and limits (LUD-06 / LUD-16), fetches each invoice
 * from the remote callback, checks it, and learns that it settled from the remote LUD-21 verify URL.
 */
import { z } from 'zod';
import { lightningAddress } from '../../machines/schemas.js';
import type { Outbound } from '../../http/outbound.js';
import {
  BackendError,
  type BackendContext,
  type BackendSpec,
  type CreatedInvoice,
  type InvoiceRequest,
  type InvoiceState,
  type LightningBackend,
  type RemotePayParams,
} from './backend.js';
import { httpJson } from './http.js';
import { checkInvoice, decodeInvoice, provenPreimage } from './invoice-check.js';

/** Wallets fetch the payRequest and then the callback: one remote fetch serves both. */
const PAY_PARAMS_CACHE_MS = 60_000;

/** The remote LUD-06 payRequest, as validated. */
interface RemotePayRequest extends RemotePayParams {
  callback: string;
}

/** Hosts reached over plain http: loopback (tests, LANs) and Tor onion services; all else is https. */
function plainHttpAllowed(host: string): boolean {
  const hostname = host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : (host.split(':')[0] ?? '');
  const name = hostname.toLowerCase();
  return name === 'localhost' || name === '127.0.0.1' || name === '[::1]' || name.endsWith('.onion');
}

/** LUD-16: `user@domain` → `https://domain/.well-known/lnurlp/user` (http for loopback and .onion). */
export function wellKnownUrl(address: string): string {
  const at = address.lastIndexOf('@');
  const user = address.slice(0, at).toLowerCase();
  const domain = address.slice(at + 1).toLowerCase();
  if (at <= 0 || !/^[a-z0-9._+-]{1,64}$/.test(user) || !/^(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(:\d{1,5})?$/.test(domain)) {
    throw new BackendError('lnaddress', `${JSON.stringify(address)} is not a Lightning address (name@domain)`, { transient: false });
  }
  return `${plainHttpAllowed(domain) ? 'http' : 'https'}://${domain}/.well-known/lnurlp/${user}`;
}

/** Append query parameters to an LNURL callback that may already carry a query of its own (LUD-06). */
export function withQuery(callback: string, params: Record<string, string>): string {
  const query = Object.entries(params)
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
    .join('&');
  const hash = callback.indexOf('#');
  const base = hash >= 0 ? callback.slice(0, hash) : callback;
  const sep = !base.includes('?') ? '?' : base.endsWith('?') || base.endsWith('&') ? '' : '&';
  return `${base}${sep}${query}`;
}

const isMsat = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 1;

export interface LnAddressOptions {
  timeoutMs: number;
  /** The guarded client: the address, its callback and its verify URL are all the tenant's choice. */
  outbound: Outbound;
  /** How long a fetched payRequest is reused (default 60 s). */
  cacheMs?: number;
}

export class LnAddressBackend implements LightningBackend {
  readonly kind = 'lnaddress' as const;
  /** The address payments are forwarded to (null: none configured; every call fails). */
  readonly address: string | null;
  private readonly timeoutMs: number;
  private readonly outbound: Outbound;
  private readonly cacheMs: number;
  private cached: { at: number; value: RemotePayRequest } | undefined;
  private inflight: Promise<RemotePayRequest> | undefined;

  constructor(address: string | null, options: LnAddressOptions) {
    this.address = address;
    this.timeoutMs = options.timeoutMs;
    this.outbound = options.outbound;
    this.cacheMs = options.cacheMs ?? PAY_PARAMS_CACHE_MS;
  }

  /** The remote service's metadata and limits; the bridge serves these in its own payRequest. */
  async payParams(): Promise<RemotePayParams> {
    const { metadata, minSendable, maxSendable, commentAllowed } = await this.remote();
    return { metadata, minSendable, maxSendable, commentAllowed };
  }

  async createInvoice(request: InvoiceRequest): Promise<CreatedInvoice> {
    const remote = await this.remote();
    const domain = this.domain();
    const params: Record<string, string> = { amount: String(request.amountMsat) };
    // LUD-12: forward the payer's comment only where the remote takes comments.
    if (request.comment !== undefined && request.comment !== '' && remote.commentAllowed > 0) params['comment'] = request.comment;
    const { status, body } = await httpJson<Record<string, unknown> | undefined>('lnaddress', withQuery(remote.callback, params), {
      timeoutMs: this.timeoutMs,
      outbound: this.outbound,
    });
    const answer = body && typeof body === 'object' ? body : {};
    // LUD-06: `{"status": "ERROR", "reason": "..."}` whatever the HTTP status.
    if (answer['status'] === 'ERROR') {
      throw new BackendError('lnaddress', `${domain} refused the invoice: ${reason(answer)}`, { transient: false });
    }
    if (status < 200 || status >= 300) {
      throw new BackendError('lnaddress', `${domain} answered the callback with HTTP ${status}`, { transient: status >= 500 || status === 429 });
    }
    const pr = answer['pr'];
    if (typeof pr !== 'string') throw new BackendError('lnaddress', `${domain} answered the callback without an invoice (pr)`, { transient: false });
    // Never hand out an invoice a validating wallet rejects (LUD-06: amount and description hash).
    const invoice = checkInvoice('lnaddress', pr, request, domain);
    if (Date.parse(invoice.expiresAt) <= Date.now())
      throw new BackendError('lnaddress', `${domain} made an invoice that has already expired`, { transient: false });
    // LUD-21: without a verify URL we could never tell the machine it was paid.
    const verify = answer['verify'];
    if (verify === undefined || verify === null || verify === '') {
      throw new BackendError('lnaddress', `${domain} does not support LUD-21 verify, so its payments cannot be confirmed`, { transient: false });
    }
    if (typeof verify !== 'string' || !serviceUrl(verify)) {
      throw new BackendError('lnaddress', `${domain} answered a verify URL that is not a valid https URL`, { transient: false });
    }
    return { paymentHash: invoice.paymentHash, pr, expiresAt: invoice.expiresAt, ref: verify };
  }

  /** LUD-21: ask the remote verify URL; trust `settled` only with a preimage that hashes to ours. */
  async lookupInvoice(paymentHash: string, ref: string | null): Promise<InvoiceState> {
    if (ref === null || !serviceUrl(ref)) throw new BackendError('lnaddress', `no LUD-21 verify URL for invoice ${paymentHash}`, { transient: false });
    const host = new URL(ref).host;
    const { status, body } = await httpJson<Record<string, unknown> | undefined>('lnaddress', ref, { timeoutMs: this.timeoutMs, outbound: this.outbound });
    const answer = body && typeof body === 'object' ? body : {};
    // Unknown there (not yet, or no longer): unpaid. Settlement expires the payment itself once its
    // invoice runs out, so this need not tell "gone after expiry" from "not known yet".
    if (status === 404 || answer['status'] === 'ERROR') return { settled: false, preimage: null, dead: false };
    if (status < 200 || status >= 300) {
      throw new BackendError('lnaddress', `${host} answered verify with HTTP ${status}`, { transient: status >= 500 || status === 429 });
    }
    if (answer['status'] !== 'OK' || typeof answer['settled'] !== 'boolean' || typeof answer['pr'] !== 'string') {
      throw new BackendError('lnaddress', `${host} answered verify without status, settled and pr (LUD-21)`, { transient: false });
    }
    const invoice = decodeInvoice('lnaddress', answer['pr'], host);
    if (invoice.paymentHash !== paymentHash) {
      throw new BackendError('lnaddress', `${host} answered verify for another invoice`, { transient: false });
    }
    const preimage = answer['settled'] === true ? provenPreimage(answer['preimage'], paymentHash) : null;
    if (preimage !== null) return { settled: true, preimage, dead: false };
    // Not settled, or a claim we cannot check: it settles only when a real preimage comes.
    return { settled: false, preimage: null, dead: !answer['settled'] && Date.parse(invoice.expiresAt) <= Date.now() };
  }

  private domain(): string {
    return this.address?.slice(this.address.lastIndexOf('@') + 1) ?? '(no address)';
  }

  /** The remote payRequest, from the cache when fresh; concurrent callers share one fetch. */
  private remote(): Promise<RemotePayRequest> {
    if (this.cached && Date.now() - this.cached.at < this.cacheMs) return Promise.resolve(this.cached.value);
    this.inflight ??= this.fetchPayRequest()
      .then((value) => {
        this.cached = { at: Date.now(), value };
        return value;
      })
      .finally(() => {
        this.inflight = undefined;
      });
    return this.inflight;
  }

  private async fetchPayRequest(): Promise<RemotePayRequest> {
    if (this.address === null) {
      throw new BackendError('lnaddress', 'no Lightning address to forward to: set the wallet address or sign the account up with a lightning_address', {
        transient: false,
      });
    }
    const url = wellKnownUrl(this.address);
    const domain = this.domain();
    const { status, body } = await httpJson<Record<string, unknown> | undefined>('lnaddress', url, { timeoutMs: this.timeoutMs, outbound: this.outbound });
    const p = body && typeof body === 'object' ? body : {};
    if (status === 404) throw new BackendError('lnaddress', `${domain} does not know ${this.address} (HTTP 404: ${reason(p)})`, { transient: false });
    if (p['status'] === 'ERROR') throw new BackendError('lnaddress', `${domain} refused ${this.address}: ${reason(p)}`, { transient: false });
    if (status < 200 || status >= 300) {
      throw new BackendError('lnaddress', `${domain} answered the payRequest with HTTP ${status}`, { transient: status >= 500 || status === 429 });
    }
    const bad = (what: string) =>
      new BackendError('lnaddress', `${domain} answered an invalid payRequest for ${this.address}: ${what} (LUD-06)`, { transient: false });
    // LUD-06 payRequest fields.
    if (p['tag'] !== 'payRequest') throw bad('tag is not "payRequest"');
    const callback = p['callback'];
    if (typeof callback !== 'string' || !serviceUrl(callback)) throw bad('callback is not an https URL');
    const { minSendable, maxSendable } = p;
    if (!isMsat(minSendable) || !isMsat(maxSendable)) throw bad('minSendable and maxSendable must be whole millisatoshis');
    if (minSendable > maxSendable) throw bad('minSendable is above maxSendable');
    const metadata = p['metadata'];
    if (typeof metadata !== 'string' || !isMetadata(metadata)) throw bad('metadata is not a JSON array of [mime, content] pairs');
    // LUD-12: absent means no comments.
    const commentAllowed = p['commentAllowed'] ?? 0;
    if (typeof commentAllowed !== 'number' || !Number.isSafeInteger(commentAllowed) || commentAllowed < 0) throw bad('commentAllowed is not a whole number');
    return { callback, minSendable, maxSendable, metadata, commentAllowed };
  }
}

/** A URL the remote service gives us to call: https, or http on loopback and .onion (LUD-06). */
function serviceUrl(value: string): boolean {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  return url.protocol === 'https:' || (url.protocol === 'http:' && plainHttpAllowed(url.host));
}

/** LUD-06: the metadata string is a JSON array of [mime, content] arrays. */
function isMetadata(metadata: string): boolean {
  try {
    const parsed: unknown = JSON.parse(metadata);
    return Array.isArray(parsed) && parsed.length > 0 && parsed.every((e) => Array.isArray(e) && e.length >= 2 && typeof e[0] === 'string');
  } catch {
    return false;
  }
}

function reason(answer: Record<string, unknown>): string {
  const r = answer['reason'];
  return typeof r === 'string' && r !== '' ? r.slice(0, 200) : 'no reason given';
}

/**
 * Settings: `address`, the Lightning address to forward to. In an account's own wallet it wins, and
 * without it the account's `lightning_address` is used; as the server default (`LNADDRESS_FALLBACK`)
 * it serves only accounts that have no address of their own: see create().
 */
type LnaddressSettings = { address?: string };
type LnaddressSecrets = Record<string, never>;
// zod types an optional field as `string | undefined`; parsed settings never hold an undefined.
const lnaddressSettings = z.strictObject({ address: lightningAddress.optional() }) as z.ZodType<LnaddressSettings>;
const lnaddressSecrets = z.strictObject({}) as z.ZodType<LnaddressSecrets>;

export const lnaddressSpec: BackendSpec<LnaddressSettings, LnaddressSecrets> = {
  kind: 'lnaddress',
  description: 'forward payments to a Lightning address (LUD-16) that supports LUD-21 verify',
  settings: lnaddressSettings,
  secrets: lnaddressSecrets,
  env: { address: 'LNADDRESS_FALLBACK' },
  create(settings, _secrets, context: BackendContext): LightningBackend {
    // An account's own wallet forwards where it says (its `address`, else the account's address); as
    // the server default, the account's own address comes first and `LNADDRESS_FALLBACK` only serves
    // accounts that gave none, so the operator's fallback never takes another account's payments.
    const own = context.account.lightning_address;
    const address = context.source === 'account' ? (settings.address ?? own) : (own ?? settings.address ?? null);
    return new LnAddressBackend(address, { timeoutMs: context.timeoutMs, outbound: context.outbound });
  },
};
