/**
 * Device credentials: an MQTT login for one asset, for machines that should not hold the account's
 * API key. Username `dev_<id>`, a random password shown once and stored only as its sha256; revoking
 * one refuses its next login and drops the client connected with it.
 */
import { randomBytes } from 'node:crypto';
import type { ClientIdentity } from '../../broker/acl.js';
import { AppError } from '../errors.js';
import type { EventBus } from '../events.js';
import { digestsEqual, newId, sha256Hex } from '../ids.js';
import type { AssetsService } from '../machines/assets.js';
import type { Principal } from '../machines/auth.js';
import { OneAtATime } from '../machines/one-at-a-time.js';
import type { Metrics } from '../metrics.js';
import type { DevicesStore } from './store.js';
import type { DeviceCredentialRecord } from './types.js';

export const DEVICE_USERNAME_PREFIX = 'dev_';
const PASSWORD_PATTERN = /^dpw_[0-9a-f]{48}$/;

export interface CredentialLimits {
  /** Live credentials an asset may have at once (MAX_DEVICE_CREDENTIALS_PER_ASSET): each is an MQTT login with its own allowance. */
  maxPerAsset: number;
  metrics: Metrics;
}

export class DeviceCredentials {
  private readonly store: DevicesStore;
  private readonly assets: AssetsService;
  private readonly bus: EventBus;
  private readonly limits: CredentialLimits;
  /** Issuing per asset, one at a time: the count and the write must not interleave. */
  private readonly issuing = new OneAtATime();

  constructor(store: DevicesStore, assets: AssetsService, bus: EventBus, limits: CredentialLimits) {
    this.store = store;
    this.assets = assets;
    this.bus = bus;
    this.limits = limits;
    // A deleted asset's machine is disconnected (its credentials no longer log in: see authenticate).
    bus.on('asset.changed', this, async ({ asset, deleted }) => {
      if (!deleted) return;
      for (const c of await this.store.listCredentials(asset.asset_id)) {
        if (c.revoked_at === null) this.bus.emit('credential.revoked', { credentialId: c.credential_id });
      }
    });
  }

  /** A new login for the asset, while it has fewer than `maxPerAsset` live ones (409 credential_limit_reached). */
  issue(principal: Principal, assetId: string, label: string | null): Promise<{ credential: DeviceCredentialRecord; password: string }> {
    return this.issuing.run(assetId, async () => {
      const max = this.limits.maxPerAsset;
      if ((await this.list(principal, assetId)).length >= max) {
        this.limits.metrics.refuse('http', 'credential_limit_reached');
        throw new AppError(
          409,
          'credential_limit_reached',
          `Asset ${assetId} already has ${max} live device credentials, the most it may have: revoke one first`,
        );
      }
      return this.issueNow(principal, assetId, label);
    });
  }

  private async issueNow(principal: Principal, assetId: string, label: string | null): Promise<{ credential: DeviceCredentialRecord; password: string }> {
    const password = `dpw_${randomBytes(24).toString('hex')}`;
    const credential: DeviceCredentialRecord = {
      credential_id: newId(),
      user_id: principal.account.user_id,
      asset_id: assetId,
      hash: sha256Hex(password),
      label,
      created: new Date().toISOString(),
      revoked_at: null,
    };
    await this.store.putCredential(credential);
    return { credential, password };
  }

  async list(principal: Principal, assetId: string): Promise<DeviceCredentialRecord[]> {
    await this.assets.owned(principal.account.user_id, assetId);
    return (await this.store.listCredentials(assetId)).filter((c) => c.revoked_at === null);
  }

  async revoke(principal: Principal, assetId: string, credentialId: string): Promise<DeviceCredentialRecord> {
    await this.assets.owned(principal.account.user_id, assetId);
    const credential = await this.store.getCredential(credentialId);
    if (!credential || credential.asset_id !== assetId || credential.revoked_at !== null) {
      throw new AppError(404, 'credential_not_found', `Asset ${assetId} has no live device credential ${credentialId}`);
    }
    const revoked = { ...credential, revoked_at: new Date().toISOString() };
    await this.store.putCredential(revoked);
    this.bus.emit('credential.revoked', { credentialId });
    return revoked;
  }

  /** The identity of an MQTT login `dev_<id>` / password, or undefined. Constant-time on the hash. */
  async authenticate(username: string, password: string): Promise<ClientIdentity | undefined> {
    if (!username.startsWith(DEVICE_USERNAME_PREFIX) || !PASSWORD_PATTERN.test(password)) return undefined;
    const credential = await this.store.getCredential(username.slice(DEVICE_USERNAME_PREFIX.length));
    if (!credential || credential.revoked_at !== null || !digestsEqual(credential.hash, sha256Hex(password))) return undefined;
    const asset = await this.assets.owned(credential.user_id, credential.asset_id).catch(() => undefined);
    if (!asset) return undefined;
    return { userId: credential.user_id, scope: 'full', assetId: credential.asset_id, credentialId: credential.credential_id };
  }
}
