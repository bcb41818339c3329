/**
 * Whether each asset's device is online, from what the broker sees: the device's retained `status`
 * ("online", and "offline" as its last will), and the connection of a device credential. Online states
 * are known only for devices that said so since this start (a restart drops every connection); a
 * device heard from without either is `null` (unknown). The state is stored when it changes, with the
 * time the device was last heard from then; a last will that comes past its login's message rate
 * limit is followed in memory only (what is stored matters only after a restart; a live status past
 * the limit is refused by the dispatcher). The Lightning rail asks `isOnline` before invoicing assets
 * that refuse payments while offline (an unknown state is not refused).
 */
import type { Logger } from 'pino';
import type { DeviceStateSource } from '../lightning/links.js';
import type { DevicesStore } from './store.js';

export interface AssetStateView {
  /** null: never seen; false also after a restart until the device comes back. */
  online: boolean | null;
  last_seen: string | null;
}

interface Live {
  userId: string;
  /** undefined until a status message or a device-credential connection says. */
  online: boolean | undefined;
  lastSeen: string;
  /** Device-credential connections of this asset that are open now. */
  connections: number;
}

export class DeviceStates implements DeviceStateSource {
  private readonly store: DevicesStore;
  private readonly log: Logger;
  private readonly live = new Map<string, Live>();

  constructor(store: DevicesStore, log: Logger) {
    this.store = store;
    this.log = log;
  }

  isOnline(assetId: string): boolean | undefined {
    return this.live.get(assetId)?.online;
  }

  async view(assetId: string): Promise<AssetStateView> {
    const live = this.live.get(assetId);
    if (live && live.online !== undefined) return { online: live.online, last_seen: live.lastSeen };
    const stored = await this.store.getState(assetId);
    // Stored states are from before this start: the device has not said it is back since.
    if (stored) return { online: live ? null : false, last_seen: live?.lastSeen ?? stored.last_seen };
    return { online: null, last_seen: live?.lastSeen ?? null };
  }

  /** The device said something (any message): it is alive, whatever its status says. */
  heard(userId: string, assetId: string): void {
    const live = this.live.get(assetId);
    if (live) live.lastSeen = new Date().toISOString();
    else this.live.set(assetId, { userId, online: undefined, lastSeen: new Date().toISOString(), connections: 0 });
  }

  /** A `status` message (or last will); `store: false` for a will over the sender's rate limit. */
  status(userId: string, assetId: string, online: boolean, store = true): Promise<void> {
    this.heard(userId, assetId);
    return this.set(assetId, online, store);
  }

  /** A device credential of the asset connected or went away. */
  connection(userId: string, assetId: string, up: boolean): Promise<void> {
    this.heard(userId, assetId);
    const live = this.live.get(assetId) as Live;
    live.connections = Math.max(0, live.connections + (up ? 1 : -1));
    if (up) return this.set(assetId, true);
    return live.connections === 0 ? this.set(assetId, false) : Promise.resolve();
  }

  private async set(assetId: string, online: boolean, store = true): Promise<void> {
    const live = this.live.get(assetId) as Live;
    const changed = live.online !== online;
    live.online = online;
    if (!changed || !store) return;
    await this.store
      .putState({ asset_id: assetId, user_id: live.userId, online, last_seen: live.lastSeen })
      .catch((err: unknown) => this.log.error({ err, assetId }, 'could not store the device state'));
  }
}
