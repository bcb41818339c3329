/** The devices store interface: device credentials and asset states. */
import type { AssetStateRecord, DeviceCredentialRecord } from './types.js';

export interface DevicesStore {
  putCredential(credential: DeviceCredentialRecord): Promise<void>;
  getCredential(credentialId: string): Promise<DeviceCredentialRecord | undefined>;
  /** The asset's credentials, oldest first (revoked ones too). */
  listCredentials(assetId: string): Promise<DeviceCredentialRecord[]>;
  getState(assetId: string): Promise<AssetStateRecord | undefined>;
  putState(state: AssetStateRecord): Promise<void>;
}
