/**
 * Payment links and the LNURL-pay flow. Each asset gets one permanent link (print it as a sticker):
 * a payRequest (LUD-06) with fixed or variable amounts, a callback that asks the account's backend
 * for an invoice committing to the metadata's hash, a success message (LUD-09), comments (LUD-12),
 * a Lightning address (LUD-16), and a verify URL per invoice (LUD-21).
 */
import { AppError } from '../errors.js';
import { textProblem } from '../http/text.js';
import { newId } from '../ids.js';
import type { AssetsService } from '../machines/assets.js';
import type { Principal } from '../machines/auth.js';
import type { MachinesStore, PageResult } from '../machines/store.js';
import type { AccountRecord, AssetRecord } from '../machines/types.js';
import { slug } from '../slug.js';
import type { PublicUrls } from '../urls.js';
import type { CreatedInvoice, LightningBackend, RemotePayParams } from './backends/backend.js';
import { ADDRESS_NAME, encodeLnurl, lnurlpUri, metadataHash, payMetadata } from './lnurl.js';
import { qrContent } from './qr.js';
import { PAYMENT_HASH } from './schemas.js';
import type { Settlement } from './settlement.js';
import type { LightningStore, PutLinkResult } from './store.js';
import { pendingLightningPayment, type PaymentLinkRecord, type PaymentRecord, type PaymentStatus } from './types.js';
import type { Wallets } from './wallets.js';

/** Where the MQTT broker reports whether an asset's device is connected; undefined = unknown. */
export interface DeviceStateSource {
  isOnline(assetId: string): boolean | undefined;
}

export interface LinkInput {
  name?: string | undefined;
  comment_allowed?: number | undefined;
  success_message?: string | undefined;
  primary?: boolean | undefined;
}

/** LUD-06 payRequest response. */
export interface PayRequestBody {
  tag: 'payRequest';
  callback: string;
  minSendable: number;
  maxSendable: number;
  metadata: string;
  commentAllowed: number;
}

/** LUD-06 callback response, with LUD-09 successAction and LUD-21 verify. */
export interface InvoiceBody {
  pr: string;
  routes: [];
  successAction: { tag: 'message'; message: string };
  verify: string;
}

/** LUD-21 verify response. */
export interface VerifyBody {
  status: 'OK';
  settled: boolean;
  preimage: string | null;
  pr: string;
}

const DEFAULT_COMMENT_ALLOWED = 140;
const DEFAULT_SUCCESS_MESSAGE = 'Paid. The machine starts now.';

export interface PaymentLinksOptions {
  store: LightningStore;
  machines: MachinesStore;
  assets: AssetsService;
  wallets: Wallets;
  settlement: Settlement;
  urls: PublicUrls;
  deviceState: DeviceStateSource;
  invoiceExpirySeconds: number;
}

/** A link reached either directly or through a Lightning address (which adds `text/identifier`). */
interface Target {
  link: PaymentLinkRecord;
  asset: AssetRecord;
  account: AccountRecord;
  identifier: string | undefined;
  callback: string;
}

const lnurlError = (status: number, reason: string) => new AppError(status, 'lnurl_error', reason);

export class PaymentLinks {
  private readonly options: PaymentLinksOptions;

  constructor(options: PaymentLinksOptions) {
    this.options = options;
  }

  // ------------------------------------------------------------------ the owner's side

  /** Create the asset's link, or update its settings. The link id and LNURL never change. */
  async provision(principal: Principal, assetId: string, input: LinkInput): Promise<{ link: PaymentLinkRecord; asset: AssetRecord; created: boolean }> {
    const asset = await this.options.assets.owned(principal.account.user_id, assetId);
    const existing = await this.options.store.getLinkByAsset(assetId);
    const now = new Date().toISOString();
    const username = principal.account.username;
    const first = existing === undefined && (await this.options.store.getPrimaryLink(principal.account.user_id)) === undefined;
    const link: PaymentLinkRecord = {
      link_id: existing?.link_id ?? newId(),
      user_id: principal.account.user_id,
      asset_id: assetId,
      name: existing?.name ?? '',
      primary: input.primary ?? existing?.primary ?? first,
      comment_allowed: input.comment_allowed ?? existing?.comment_allowed ?? DEFAULT_COMMENT_ALLOWED,
      success_message: input.success_message ?? existing?.success_message ?? DEFAULT_SUCCESS_MESSAGE,
      created: existing?.created ?? now,
      updated: now,
    };
    let stored: PutLinkResult;
    if (input.name !== undefined) {
      link.name = `${username}.${input.name}`;
      stored = await this.options.store.putLink(link);
      if (stored === 'name_taken') throw new AppError(409, 'name_taken', `The address name ${input.name} is taken on this account`);
    } else if (existing) {
      stored = await this.options.store.putLink(link);
    } else {
      const base = `${username}.${slug(asset.name, 24, 'machine')}`;
      for (let n = 1; ; n++) {
        link.name = n === 1 ? base : `${base}-${n}`;
        stored = await this.options.store.putLink(link);
        if (stored !== 'name_taken') break;
      }
    }
    // A concurrent call made the asset's link first (the store keeps one per asset): update that one.
    if (stored === 'asset_linked') return this.provision(principal, assetId, input);
    if (link.primary) await this.demoteOthers(link);
    return { link, asset, created: existing === undefined };
  }

  async get(principal: Principal, assetId: string): Promise<{ link: PaymentLinkRecord; asset: AssetRecord }> {
    const asset = await this.options.assets.owned(principal.account.user_id, assetId);
    const link = await this.options.store.getLinkByAsset(assetId);
    if (!link) {
      throw new AppError(404, 'payment_link_not_found', `Asset ${assetId} has no payment link yet: POST /api/v1/assets/${assetId}/payment-link first`);
    }
    return { link, asset };
  }

  /** The payment-link body: every form of the link, and the amounts it takes. */
  view(link: PaymentLinkRecord, asset: AssetRecord) {
    const { min, max } = satsRange(asset);
    const url = this.options.urls.lnurlPay(link.link_id);
    return {
      link_id: link.link_id,
      asset_id: link.asset_id,
      lnurl: encodeLnurl(url),
      url,
      lnurlp: lnurlpUri(url),
      lightning_address: `${link.name}@${this.options.urls.host}`,
      qr_png_url: this.options.urls.qr(link.link_id, 'png'),
      qr_svg_url: this.options.urls.qr(link.link_id, 'svg'),
      min_sats: min,
      max_sats: max,
      comment_allowed: link.comment_allowed,
      success_message: link.success_message,
      primary: link.primary,
      created: link.created,
      updated: link.updated,
    };
  }

  async payments(
    principal: Principal,
    assetId: string,
    status: PaymentStatus | undefined,
    limit: number,
    before: number | undefined,
  ): Promise<PageResult<PaymentRecord>> {
    await this.options.assets.owned(principal.account.user_id, assetId);
    return this.options.store.listPayments(assetId, before === undefined ? { limit } : { limit, before }, status);
  }

  /** What a link's QR code holds. */
  qrText(link: PaymentLinkRecord): string {
    return qrContent(encodeLnurl(this.options.urls.lnurlPay(link.link_id)));
  }

  paymentByHash(paymentHash: string): Promise<PaymentRecord | undefined> {
    return this.options.store.getPaymentByHash(paymentHash);
  }

  /**
   * A hosted checkout (BTCPay's checkout page) for payers who do not speak LNURL: a pending payment
   * like an LNURL invoice's, with the checkout's Lightning invoice, settled the same way.
   */
  async checkout(
    principal: Principal,
    assetId: string,
    input: { amount_sats?: number | undefined; redirect_url?: string | undefined },
  ): Promise<{ payment: PaymentRecord; checkoutUrl: string }> {
    const { link, asset } = await this.get(principal, assetId);
    this.refuseOffline(asset);
    const { min, max } = satsRange(asset);
    let amountSats: number;
    if (asset.pricing === 'variable') {
      if (input.amount_sats === undefined)
        throw new AppError(400, 'invalid_body', `Invalid body: amount_sats is required for this variable-price asset (${min} to ${max} sats)`);
      if (input.amount_sats < min || input.amount_sats > max)
        throw new AppError(400, 'invalid_body', `Invalid body: amount_sats must be between ${min} and ${max}`);
      amountSats = input.amount_sats;
    } else {
      if (input.amount_sats !== undefined && input.amount_sats !== asset.price_sats) {
        throw new AppError(400, 'invalid_body', `Invalid body: amount_sats must be ${asset.price_sats} (the asset's fixed price) or absent`);
      }
      amountSats = asset.price_sats;
    }
    const account = principal.account;
    const backend = await this.options.wallets.backendFor(account);
    const walletVersion = await this.options.wallets.versionFor(account.user_id);
    if (!backend.createCheckout) {
      throw new AppError(
        409,
        'checkout_not_supported',
        `The ${backend.kind} Lightning backend has no hosted checkout: use the payment link (LNURL), or set a btcpay wallet`,
      );
    }
    const paymentId = newId();
    const created = await backend.createCheckout({
      amountSats,
      description: describe(asset),
      expirySeconds: this.options.invoiceExpirySeconds,
      paymentId,
      redirectUrl: input.redirect_url,
    });
    const payment = await this.recordPending({ paymentId, account, asset, link, amountSats, backend, walletVersion, created, comment: null });
    return { payment, checkoutUrl: created.checkoutUrl };
  }

  // ------------------------------------------------------------------ the payer's side (LNURL)

  async linkTarget(linkId: string): Promise<Target> {
    const link = await this.options.store.getLink(linkId);
    if (!link) throw lnurlError(404, 'Unknown payment link');
    return this.target(link, undefined, this.options.urls.lnurlCallback(link.link_id));
  }

  /** LUD-16: `<username>.<name>` is a link's address, `<username>` the account's primary link. */
  async addressTarget(name: string): Promise<Target> {
    const lower = name.toLowerCase();
    if (!ADDRESS_NAME.test(lower)) throw lnurlError(404, 'Unknown Lightning address');
    let link = await this.options.store.getLinkByName(lower);
    if (!link) {
      const account = await this.options.machines.getAccountByUsername(lower);
      link = account ? await this.options.store.getPrimaryLink(account.user_id) : undefined;
    }
    if (!link) throw lnurlError(404, 'Unknown Lightning address');
    return this.target(link, `${lower}@${this.options.urls.host}`, this.options.urls.addressCallback(lower));
  }

  /** LUD-06 payRequest. */
  async payRequest(target: Target): Promise<PayRequestBody> {
    this.refuseOffline(target.asset);
    const terms = await this.terms(target);
    return {
      tag: 'payRequest',
      callback: target.callback,
      minSendable: terms.minSendable,
      maxSendable: terms.maxSendable,
      metadata: terms.metadata,
      commentAllowed: terms.commentAllowed,
    };
  }

  /** LUD-06 callback: an invoice for `amount` millisatoshis, committing to the metadata. */
  async invoice(target: Target, amountParam: string | undefined, commentParam: string | undefined): Promise<InvoiceBody> {
    this.refuseOffline(target.asset);
    const terms = await this.terms(target);
    if (amountParam === undefined || !/^\d{1,19}$/.test(amountParam)) {
      throw lnurlError(400, 'amount is required: a whole number of millisatoshis');
    }
    const amountMsat = Number(amountParam);
    if (amountMsat < terms.minSendable || amountMsat > terms.maxSendable) {
      throw lnurlError(400, `amount must be between ${terms.minSendable} and ${terms.maxSendable} millisatoshis`);
    }
    if (amountMsat % 1000 !== 0) throw lnurlError(400, 'amount must be a whole number of sats (a multiple of 1000 millisatoshis)');
    const comment = commentParam === undefined || commentParam === '' ? null : commentParam;
    if (comment !== null) {
      if (terms.commentAllowed === 0) throw lnurlError(400, 'this link takes no comments');
      if ([...comment].length > terms.commentAllowed) throw lnurlError(400, `comment is longer than ${terms.commentAllowed} characters`);
      const problem = textProblem(comment);
      if (problem !== undefined) throw lnurlError(400, `comment ${problem}`);
      // The query parser turns percent-escapes that are not UTF-8 into U+FFFD: refuse, do not store altered text.
      if (comment.includes('\uFFFD')) throw lnurlError(400, 'comment is not valid UTF-8');
    }

    const { asset, link, account } = target;
    const amountSats = amountMsat / 1000;
    const paymentId = newId();
    const { backend } = terms;
    const walletVersion = await this.options.wallets.versionFor(account.user_id);
    const created = await backend.createInvoice({
      amountMsat,
      descriptionHash: metadataHash(terms.metadata),
      metadata: terms.metadata,
      memo: `${asset.name} (paywire ${paymentId})`,
      expirySeconds: this.options.invoiceExpirySeconds,
      paymentId,
      comment: comment ?? undefined,
    });
    await this.recordPending({ paymentId, account, asset, link, amountSats, backend, walletVersion, created, comment });
    return {
      pr: created.pr,
      routes: [],
      successAction: { tag: 'message', message: link.success_message },
      verify: this.options.urls.verify(created.paymentHash),
    };
  }

  /** LUD-21 verify: settled or not, with the preimage once it is. */
  async verify(paymentHash: string): Promise<VerifyBody> {
    let payment = PAYMENT_HASH.test(paymentHash) ? await this.options.store.getPaymentByHash(paymentHash) : undefined;
    if (!payment) throw lnurlError(404, 'Not found');
    payment = await this.options.settlement.refresh(payment).catch(() => payment as PaymentRecord);
    const settled = payment.status === 'settled';
    return { status: 'OK', settled, preimage: settled ? payment.preimage : null, pr: payment.pr };
  }

  // ------------------------------------------------------------------ helpers

  private async target(link: PaymentLinkRecord, identifier: string | undefined, callback: string): Promise<Target> {
    const asset = await this.options.machines.getAsset(link.asset_id);
    const account = await this.options.machines.getAccount(link.user_id);
    if (!asset || asset.deleted_at !== null || !account) throw lnurlError(404, 'This machine no longer takes payments');
    return { link, asset, account, identifier, callback };
  }

  /** Amounts, metadata and comment length for a target; a proxied Lightning address imposes its own. */
  private async terms(
    target: Target,
  ): Promise<{ minSendable: number; maxSendable: number; metadata: string; commentAllowed: number; backend: LightningBackend }> {
    const { min, max } = satsRange(target.asset);
    const backend = await this.options.wallets.backendFor(target.account);
    const own = {
      minSendable: min * 1000,
      maxSendable: max * 1000,
      metadata: payMetadata(describe(target.asset), target.identifier),
      commentAllowed: target.link.comment_allowed,
      backend,
    };
    if (!backend.payParams) return own;
    const remote: RemotePayParams = await backend.payParams();
    const terms = {
      minSendable: Math.max(own.minSendable, Math.ceil(remote.minSendable / 1000) * 1000),
      maxSendable: Math.min(own.maxSendable, Math.floor(remote.maxSendable / 1000) * 1000),
      // The remote service hashes its own metadata into the invoice, so that is what the payer must see.
      metadata: remote.metadata,
      commentAllowed: Math.min(own.commentAllowed, remote.commentAllowed),
      backend,
    };
    if (terms.minSendable > terms.maxSendable) throw lnurlError(503, 'The wallet behind this machine cannot receive this amount');
    return terms;
  }

  private refuseOffline(asset: AssetRecord): void {
    if (asset.refuse_when_offline && this.options.deviceState.isOnline(asset.asset_id) === false) {
      // 409: the machine's state (offline) refuses the run; the request itself is fine and may be repeated later.
      throw new AppError(409, 'device_offline', `${asset.name} is offline right now; try again later`, { headers: { 'Retry-After': '30' } });
    }
  }

  /** The pending payment an invoice (or a checkout's invoice) stands for. */
  private recordPending(p: {
    paymentId: string;
    account: AccountRecord;
    asset: AssetRecord;
    link: PaymentLinkRecord;
    amountSats: number;
    backend: LightningBackend;
    walletVersion: string;
    created: CreatedInvoice;
    comment: string | null;
  }): Promise<PaymentRecord> {
    return this.options.store.createPayment(
      pendingLightningPayment({
        paymentId: p.paymentId,
        userId: p.account.user_id,
        assetId: p.asset.asset_id,
        linkId: p.link.link_id,
        amountSats: p.amountSats,
        durationMs: runTime(p.asset, p.amountSats),
        backend: p.backend.kind,
        walletVersion: p.walletVersion,
        created: p.created,
        comment: p.comment,
      }),
    );
  }

  private async demoteOthers(primary: PaymentLinkRecord): Promise<void> {
    // One primary link per account: the others step down.
    for (const other of await this.options.store.listLinks(primary.user_id)) {
      if (other.link_id !== primary.link_id && other.primary) await this.options.store.putLink({ ...other, primary: false, updated: primary.updated });
    }
  }
}

/** Amounts an asset accepts, in sats. */
function satsRange(asset: AssetRecord): { min: number; max: number } {
  return asset.pricing === 'variable'
    ? { min: asset.min_sats ?? asset.price_sats, max: asset.max_sats ?? asset.price_sats }
    : { min: asset.price_sats, max: asset.price_sats };
}

/** How long the machine runs for a payment: fixed, or scaled by the amount for variable pricing. */
function runTime(asset: AssetRecord, amountSats: number): number {
  return asset.pricing === 'variable' ? Math.round((asset.duration_ms * amountSats) / asset.price_sats) : asset.duration_ms;
}

function describe(asset: AssetRecord): string {
  return asset.pricing === 'variable' ? `${asset.name}: ${asset.price_sats} sats per ${seconds(asset.duration_ms)}` : `${asset.name}: ${asset.price_sats} sats`;
}

function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}
