/** Assets: the machines an account sells time on. Every read and write checks ownership. */
import { AppError } from '../errors.js';
import { newId } from '../ids.js';
import type { Principal } from './auth.js';
import { DEFAULT_DURATION_MS } from './schemas.js';
import type { MachinesStore } from './store.js';
import type { AssetRecord } from './types.js';

export interface AssetInput {
  name: string;
  price_sats: number;
  duration_ms?: number | undefined;
  metadata?: Record<string, unknown> | undefined;
}

export type AssetPatch = { [K in keyof AssetInput]?: AssetInput[K] | undefined };

export class AssetsService {
  private readonly store: MachinesStore;

  constructor(store: MachinesStore) {
    this.store = store;
  }

  async create(principal: Principal, input: AssetInput): Promise<AssetRecord> {
    const now = new Date().toISOString();
    const asset: AssetRecord = {
      asset_id: newId(),
      user_id: principal.account.user_id,
      name: input.name,
      price_sats: input.price_sats,
      duration_ms: input.duration_ms ?? DEFAULT_DURATION_MS,
      metadata: input.metadata ?? {},
      created: now,
      updated: now,
      deleted_at: null,
    };
    await this.store.putAsset(asset);
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
    const base = replace ? { ...asset, duration_ms: DEFAULT_DURATION_MS, metadata: {} } : asset;
    const next: AssetRecord = {
      ...base,
      ...definedOnly(patch),
      updated: new Date().toISOString(),
    };
    await this.store.putAsset(next);
    return next;
  }

  /** Soft delete: the asset disappears from the API, its past events and payments keep their reference. */
  async remove(principal: Principal, assetId: string): Promise<AssetRecord> {
    const asset = await this.owned(principal.account.user_id, assetId);
    const now = new Date().toISOString();
    const next: AssetRecord = { ...asset, deleted_at: now, updated: now };
    await this.store.putAsset(next);
    return next;
  }
}

/** The fields actually given: an absent field leaves the stored value alone. */
function definedOnly(patch: AssetPatch): Partial<Pick<AssetRecord, 'name' | 'price_sats' | 'duration_ms' | 'metadata'>> {
  return Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined));
}
