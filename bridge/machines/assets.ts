/** Assets: the machines an account sells time on. Every read and write checks ownership. */
import { AppError } from '../errors.js';
import type { EventBus } from '../events.js';
import { newId } from '../ids.js';
import type { Metrics } from '../metrics.js';
import type { Principal } from './auth.js';
import { OneAtATime } from './one-at-a-time.js';
import { DEFAULT_DURATION_MS, MAX_PRICE_SATS } from './schemas.js';
import type { MachinesStore } from './store.js';
import { getAddress } from 'viem';
import type { AssetRecord, AssetX402, Pricing } from './types.js';

export interface AssetInput {
  name: string;
  price_sats: number;
  duration_ms?: number | undefined;
  pricing?: Pricing | undefined;
  min_sats?: number | null | undefined;
  max_sats?: number | null | undefined;
  refuse_when_offline?: boolean | undefined;
  metadata?: Record<string, unknown> | undefined;
  x402?: AssetX402 | null | undefined;
}

export type AssetPatch = { [K in keyof AssetInput]?: AssetInput[K] | undefined };

/** Variable pricing defaults: at least one unit, at most a hundred. */
const DEFAULT_MAX_UNITS = 100;
/** The longest a single payment may run a machine (variable pricing scales the run with the amount). */
export const MAX_RUN_MS = 7 * 86_400_000;

/** Settle the pricing fields: fixed prices have no range; variable ones get a checked range. */
function withPricing(asset: AssetRecord, given: AssetPatch): AssetRecord {
  if (asset.pricing === 'fixed') {
    if ((given.min_sats ?? null) !== null || (given.max_sats ?? null) !== null) {
      throw new AppError(400, 'invalid_body', 'Invalid body: min_sats and max_sats apply only to pricing "variable"');
    }
    return { ...asset, min_sats: null, max_sats: null };
  }
  // The largest payment may not run the machine for more than MAX_RUN_MS.
  const longest = asset.duration_ms === 0 ? MAX_PRICE_SATS : Math.floor((MAX_RUN_MS * asset.price_sats) / asset.duration_ms);
  const min = asset.min_sats ?? asset.price_sats;
  const max = asset.max_sats ?? Math.min(asset.price_sats * DEFAULT_MAX_UNITS, MAX_PRICE_SATS, longest);
  if (min > max) throw new AppError(400, 'invalid_body', `Invalid body: min_sats (${min}) is above max_sats (${max})`);
  if (max > longest) {
    throw new AppError(
      400,
      'invalid_body',
      `Invalid body: max_sats (${max}) would run the machine for more than 7 days; at most ${longest} at this price and duration`,
    );
  }
  return { ...asset, min_sats: min, max_sats: max };
}

/** x402 terms as stored: addresses checksummed (EIP-55), network names lowercase. */
function normalX402(terms: AssetX402 | null | undefined): AssetX402 | null {
  if (terms === undefined || terms === null) return null;
  return {
    pay_to: getAddress(terms.pay_to.toLowerCase()),
    prices: terms.prices.map((p) => ({ network: p.network.toLowerCase(), asset: getAddress(p.asset.toLowerCase()), amount: p.amount })),
  };
}

export interface AssetLimits {
  /** Live assets an account may hold at once (MAX_ASSETS_PER_ACCOUNT). */
  maxAssetsPerAccount: number;
  metrics: Metrics;
}

export class AssetsService {
  private readonly store: MachinesStore;
  private readonly bus: EventBus;
  private readonly limits: AssetLimits;
  /** Creation per account, one at a time: the count and the write must not interleave. */
  private readonly creations = new OneAtATime();

  constructor(store: MachinesStore, bus: EventBus, limits: AssetLimits) {
    this.store = store;
    this.bus = bus;
    this.limits = limits;
  }

  /** A new asset, while the account holds fewer than `maxAssetsPerAccount` live ones (409 asset_limit_reached). */
  create(principal: Principal, input: AssetInput): Promise<AssetRecord> {
    return this.creations.run(principal.account.user_id, async () => {
      const max = this.limits.maxAssetsPerAccount;
      if ((await this.store.listAssets(principal.account.user_id)).length >= max) {
        this.limits.metrics.refuse('http', 'asset_limit_reached');
        throw new AppError(409, 'asset_limit_reached', `This account already has ${max} assets, the most it may hold: delete one first`);
      }
      return this.createNow(principal, input);
    });
  }

  private async createNow(principal: Principal, input: AssetInput): Promise<AssetRecord> {
    const now = new Date().toISOString();
    const asset = withPricing(
      {
        asset_id: newId(),
        user_id: principal.account.user_id,
        name: input.name,
        price_sats: input.price_sats,
        duration_ms: input.duration_ms ?? DEFAULT_DURATION_MS,
        pricing: input.pricing ?? 'fixed',
        min_sats: input.min_sats ?? null,
        max_sats: input.max_sats ?? null,
        refuse_when_offline: input.refuse_when_offline ?? false,
        metadata: input.metadata ?? {},
        x402: normalX402(input.x402),
        created: now,
        updated: now,
        deleted_at: null,
      },
      input,
    );
    await this.store.putAsset(asset);
    this.bus.emit('asset.changed', { asset, deleted: false });
    return asset;
  }

  list(principal: Principal): Promise<AssetRecord[]> {
    return this.store.listAssets(principal.account.user_id);
  }

  /** The caller's live asset, or 404 asset_not_found / 403 asset_not_owned. */
  async owned(userId: string, assetId: string): Promise<AssetRecord> {
    const asset = await this.store.getAsset(assetId);
    if (!asset || asset.deleted_at !== null) throw new AppError(404, 'asset_not_found', `Asset ${assetId} does not exist`);
    if (asset.user_id !== userId) throw new AppError(403, 'asset_not_owned', `Asset ${assetId} belongs to another account`);
    return asset;
  }

  get(principal: Principal, assetId: string): Promise<AssetRecord> {
    return this.owned(principal.account.user_id, assetId);
  }

  /** PATCH changes the given fields; PUT (`replace`) resets the optional ones to their defaults. */
  async update(principal: Principal, assetId: string, patch: AssetPatch, replace = false): Promise<AssetRecord> {
    const asset = await this.owned(principal.account.user_id, assetId);
    const base: AssetRecord = replace
      ? { ...asset, duration_ms: DEFAULT_DURATION_MS, pricing: 'fixed', min_sats: null, max_sats: null, refuse_when_offline: false, metadata: {}, x402: null }
      : asset;
    const merged: AssetRecord = { ...base, ...definedOnly(patch), updated: new Date().toISOString() };
    if (patch.x402 !== undefined) merged.x402 = normalX402(patch.x402);
    // A switch to fixed pricing drops the old range; a switch to variable starts from the defaults.
    if (patch.pricing !== undefined && patch.pricing !== asset.pricing) {
      if (patch.min_sats === undefined) merged.min_sats = null;
      if (patch.max_sats === undefined) merged.max_sats = null;
    }
    const next = withPricing(merged, patch);
    await this.store.putAsset(next);
    this.bus.emit('asset.changed', { asset: next, deleted: false });
    return next;
  }

  /** Soft delete: the asset disappears from the API, its past events and payments keep their reference. */
  async remove(principal: Principal, assetId: string): Promise<AssetRecord> {
    const asset = await this.owned(principal.account.user_id, assetId);
    const now = new Date().toISOString();
    const next: AssetRecord = { ...asset, deleted_at: now, updated: now };
    await this.store.putAsset(next);
    this.bus.emit('asset.changed', { asset: next, deleted: true });
    return next;
  }
}

/** The fields actually given: an absent field leaves the stored value alone. */
function definedOnly(patch: AssetPatch): Partial<AssetRecord> {
  return Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined)) as Partial<AssetRecord>;
}
