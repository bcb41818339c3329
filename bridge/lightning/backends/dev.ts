/**
 * The dev backend (the embedded default): a Lightning node of our own that issues real, signed
 * BOLT 11 invoices on regtest (prefix `lnbcrt`) from a local node key, and that an admin can pay by
 * hand. No channel or chain is involved; it exists so the whole flow runs on one machine, in demos
 * and tests.
 */
import { createHash, randomBytes } from 'node:crypto';
import bolt11 from 'bolt11';
import { PaywireError } from '../../errors.js';
import type { LightningStore } from '../store.js';
import { BackendError, type CreatedInvoice, type InvoiceRequest, type InvoiceState, type LightningBackend } from './backend.js';

/** BOLT 11 regtest network parameters (human-readable prefix `lnbcrt`). */
const REGTEST = { bech32: 'bcrt', pubKeyHash: 111, scriptHash: 196, validWitnessVersions: [0, 1] };

/** BOLT 11 `c` field: blocks the last hop must leave for the payment. */
const MIN_FINAL_CLTV_EXPIRY = 18;

export class DevInvoiceError extends PaywireError<'dev_invoice'> {
  readonly reason: 'unknown' | 'expired';
  constructor(reason: 'unknown' | 'expired', message: string) {
    super('dev_invoice', message);
    this.name = 'DevInvoiceError';
    this.reason = reason;
  }
}

export class DevBackend implements LightningBackend {
  readonly kind = 'dev' as const;
  private readonly nodeKey: Buffer;
  private readonly store: LightningStore;

  constructor(nodeKey: Uint8Array, store: LightningStore) {
    this.nodeKey = Buffer.from(nodeKey);
    this.store = store;
  }

  async createInvoice(request: InvoiceRequest): Promise<CreatedInvoice> {
    const preimage = randomBytes(32);
    const paymentHash = createHash('sha256').update(preimage).digest('hex');
    const timestamp = Math.floor(Date.now() / 1000);
    let pr: string;
    try {
      const unsigned = bolt11.encode({
        network: REGTEST,
        millisatoshis: String(request.amountMsat),
        timestamp,
        tags: [
          { tagName: 'payment_hash', data: paymentHash },
          // BOLT 11 `h`: the hash of the description, here the LNURL metadata (LUD-06).
          { tagName: 'purpose_commit_hash', data: request.descriptionHash },
          { tagName: 'payment_secret', data: randomBytes(32).toString('hex') },
          { tagName: 'expire_time', data: request.expirySeconds },
          { tagName: 'min_final_cltv_expiry', data: MIN_FINAL_CLTV_EXPIRY },
          // A payment secret requires the feature bits that announce it.
          {
            tagName: 'feature_bits',
            data: { word_length: 4, var_onion_optin: { required: false, supported: true }, payment_secret: { required: true, supported: true } },
          },
        ],
      } as unknown as bolt11.PaymentRequestObject);
      pr = bolt11.sign(unsigned, this.nodeKey).paymentRequest as string;
    } catch (err) {
      throw new BackendError('dev', `cannot sign invoice: ${(err as Error).message}`, { transient: false, cause: err });
    }
    const expiresAt = new Date((timestamp + request.expirySeconds) * 1000).toISOString();
    await this.store.putDevInvoice({
      payment_hash: paymentHash,
      preimage: preimage.toString('hex'),
      amount_msat: request.amountMsat,
      expires_at: expiresAt,
      settled_at: null,
    });
    return { paymentHash, pr, expiresAt, ref: null };
  }

  async lookupInvoice(paymentHash: string): Promise<InvoiceState> {
    const invoice = await this.store.getDevInvoice(paymentHash);
    if (!invoice) throw new BackendError('dev', `no invoice ${paymentHash}`, { transient: false });
    const settled = invoice.settled_at !== null;
    return { settled, preimage: settled ? invoice.preimage : null, dead: !settled && Date.parse(invoice.expires_at) <= Date.now() };
  }

  /**
   * The preimage that pays one of our invoices (the admin's dev settle). Nothing is written: the
   * settlement itself is the record (one durable write on the settle path); `recordPaid` notes it in
   * the node's own books afterwards. An expired invoice cannot be paid.
   */
  async pay(paymentHash: string): Promise<string> {
    const invoice = await this.store.getDevInvoice(paymentHash);
    if (!invoice) throw new DevInvoiceError('unknown', `no dev invoice with payment hash ${paymentHash}`);
    if (invoice.settled_at !== null) return invoice.preimage;
    if (Date.parse(invoice.expires_at) <= Date.now()) throw new DevInvoiceError('expired', 'the invoice has expired and can no longer be paid');
    return invoice.preimage;
  }

  /** Note in the node's books that an invoice was paid (after its payment settled). */
  async recordPaid(paymentHash: string): Promise<void> {
    const invoice = await this.store.getDevInvoice(paymentHash);
    if (invoice && invoice.settled_at === null) await this.store.putDevInvoice({ ...invoice, settled_at: new Date().toISOString() });
  }
}
