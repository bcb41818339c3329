/**
 * The Lightning half of an x402 offer: a BOLT 11 invoice for one run of the asset, made by the asset
 * owner's Lightning backend (their own wallet, or the server default) exactly as an LNURL-pay invoice is,
 * and recorded as a pending Lightning payment of the asset. It settles the usual way (the backend's push
 * or poll, the dev node's settle call) or, sooner, through the payer's preimage (x402 over Lightning).
 * Invoices per asset are rate limited: every unpaid 402 answer would otherwise make one.
 */
import type { Logger } from 'pino';
import type { RateLimiter } from '../../http/rate-limit.js';
import { newId } from '../../ids.js';
import { metadataHash, payMetadata } from '../../lightning/lnurl.js';
import type { LightningStore } from '../../lightning/store.js';
import { pendingLightningPayment } from '../../lightning/types.js';
import type { Wallets } from '../../lightning/wallets.js';
import type { AccountRecord, AssetRecord } from '../../machines/types.js';
import { lightningRequirement } from './lightning.js';
import { describeRun } from './offers.js';

export interface X402InvoicesOptions {
  store: LightningStore;
  wallets: Wallets;
  expirySeconds: number;
  /** Invoices per asset per minute (LNURL_INVOICES_PER_ASSET_PER_MINUTE). */
  limiter: RateLimiter;
  log: Logger;
}

export class X402Invoices {
  private readonly options: X402InvoicesOptions;

  constructor(options: X402InvoicesOptions) {
    this.options = options;
  }

  /**
   * A fresh invoice for one run at the asset's Lightning price (`price_sats` for `duration_ms`), as x402
   * v2 requirements; undefined when none can be made now (rate limited, or the backend failed: the
   * EVM prices are still offered).
   */
  async offer(asset: AssetRecord, account: AccountRecord): Promise<ReturnType<typeof lightningRequirement> | undefined> {
    const { store, wallets, log } = this.options;
    if (!this.options.limiter.take(asset.asset_id).allowed) return undefined;
    const amountSats = asset.price_sats;
    const amountMsat = amountSats * 1000;
    try {
      const backend = await wallets.backendFor(account);
      let metadata = payMetadata(describeRun(asset));
      if (backend.payParams) {
        // A proxied Lightning address hashes its own metadata into the invoice and sets its own range.
        const remote = await backend.payParams();
        if (amountMsat < remote.minSendable || amountMsat > remote.maxSendable) return undefined;
        metadata = remote.metadata;
      }
      const paymentId = newId();
      const walletVersion = await wallets.versionFor(account.user_id);
      const created = await backend.createInvoice({
        amountMsat,
        descriptionHash: metadataHash(metadata),
        metadata,
        memo: `${asset.name} (paywire x402 ${paymentId})`,
        expirySeconds: this.options.expirySeconds,
        paymentId,
      });
      await store.createPayment(
        pendingLightningPayment({
          paymentId,
          userId: account.user_id,
          assetId: asset.asset_id,
          linkId: '',
          amountSats,
          durationMs: asset.duration_ms,
          backend: backend.kind,
          walletVersion,
          created,
          comment: null,
        }),
      );
      return lightningRequirement({ pr: created.pr, paymentHash: created.paymentHash, amountMsat, expiresAt: created.expiresAt });
    } catch (err) {
      log.warn({ err: (err as Error).message, assetId: asset.asset_id }, 'x402: no Lightning invoice for this offer');
      return undefined;
    }
  }
}
