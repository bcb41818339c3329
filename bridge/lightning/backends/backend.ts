/**
 * The one small interface every Lightning backend implements: make an invoice that commits to a
 * description hash, look an invoice up, and (optionally) push settlements as they happen. Backends
 * speak to real products over HTTP; they never touch the store or the bus.
 */
import type { z } from 'zod';
import { PaywireError } from '../../errors.js';
import type { Outbound } from '../../http/outbound.js';
import type { BackendKind } from '../types.js';

export interface InvoiceRequest {
  amountMsat: number;
  /** sha256 (hex) of the LNURL metadata string: the invoice's `h` tag must commit to it (LUD-06). */
  descriptionHash: string;
  /** The metadata string itself, for backends that hash it themselves (LNbits `unhashed_description`). */
  metadata: string;
  /** A short human description for the backend's own dashboards. */
  memo: string;
  expirySeconds: number;
  /** Our payment id, for backends that carry an order reference (BTCPay `metadata.orderId`). */
  paymentId: string;
  /** LUD-12 comment from the payer, for backends that forward it (Lightning-address proxy). */
  comment?: string | undefined;
}

export interface CreatedInvoice {
  paymentHash: string;
  /** BOLT 11 payment request. */
  pr: string;
  expiresAt: string;
  /** What `lookupInvoice` needs besides the hash (BTCPay invoice id, LUD-21 verify URL). */
  ref: string | null;
}

export interface InvoiceState {
  settled: boolean;
  /** Set when the backend reports it (settled invoices). */
  preimage: string | null;
  /** The backend gave the invoice up (expired, cancelled, invalid). */
  dead: boolean;
}

export type SettledListener = (paymentHash: string, preimage: string | null) => void;

/** LNURL pay parameters a backend imposes (a proxied Lightning address dictates its own metadata). */
export interface RemotePayParams {
  metadata: string;
  minSendable: number;
  maxSendable: number;
  commentAllowed: number;
}

/** A hosted checkout (a BTCPay store invoice): for payers who do not speak LNURL. */
export interface CheckoutRequest {
  amountSats: number;
  /** Shown on the checkout page and in the backend's dashboard. */
  description: string;
  expirySeconds: number;
  /** Our payment id, carried as the order id. */
  paymentId: string;
  redirectUrl?: string | undefined;
}

export interface CreatedCheckout extends CreatedInvoice {
  checkoutUrl: string;
}

export interface LightningBackend {
  readonly kind: BackendKind;
  createInvoice(request: InvoiceRequest): Promise<CreatedInvoice>;
  /** Only backends with a hosted checkout page (BTCPay). */
  createCheckout?(request: CheckoutRequest): Promise<CreatedCheckout>;
  lookupInvoice(paymentHash: string, ref: string | null): Promise<InvoiceState>;
  /** Start pushing settlements; returns a function that stops it. */
  watch?(onSettled: SettledListener): () => Promise<void>;
  /** When present, these parameters replace the link's own in the LNURL pay request. */
  payParams?(): Promise<RemotePayParams>;
  /**
   * Whether the backend can serve the bridge at all, asked when an account saves it as its wallet.
   * Rejects, with a BackendError that is not transient, only when the backend answered that it
   * cannot (an LND without any invoice lookup); one that does not answer passes: it may be up later.
   */
  check?(): Promise<void>;
}

/**
 * A backend could not do what was asked: unreachable, timed out, refused our credentials, or
 * answered nonsense. `transient` says whether retrying later may help.
 */
export class BackendError extends PaywireError<'backend_error'> {
  readonly backend: BackendKind;
  readonly transient: boolean;

  constructor(backend: BackendKind, message: string, options: { transient?: boolean; cause?: unknown } = {}) {
    super('backend_error', `${backend}: ${message}`, options.cause === undefined ? {} : { cause: options.cause });
    this.name = 'BackendError';
    this.backend = backend;
    this.transient = options.transient ?? true;
  }
}

/** What every backend gets from the bridge when it is built. */
export interface BackendContext {
  /** Per HTTP request to the backend. */
  timeoutMs: number;
  /** The guarded client every request to the backend goes through (address policy, deadline, size caps). */
  outbound: Outbound;
  /** The account the backend makes invoices for (the Lightning-address proxy pays to its address). */
  account: { user_id: string; lightning_address: string | null };
  /** `account`: the account's own wallet; `server`: the bridge's default serving an account without one. */
  source: 'account' | 'server';
}

/**
 * How a backend is configured: its non-secret settings (shown back to the owner) and its secrets
 * (stored sealed, never shown), both validated with zod, and how to build it from them. One spec per
 * kind, used for the server default (from the environment) and for accounts' own wallets.
 */
export interface BackendSpec<
  S extends Record<string, string | undefined> = Record<string, string>,
  K extends Record<string, string | undefined> = Record<string, string>,
> {
  kind: BackendKind;
  /** One line for documents and errors. */
  description: string;
  settings: z.ZodType<S>;
  secrets: z.ZodType<K>;
  /** Environment variable of each field, for the server default (`LIGHTNING_BACKEND`). */
  env: Record<keyof S | keyof K, string>;
  create(settings: S, secrets: K, context: BackendContext): LightningBackend;
}
