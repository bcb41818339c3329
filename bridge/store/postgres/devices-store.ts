/** The devices store on PostgreSQL: device credentials (listed oldest first) and asset states. */
import type { DevicesStore } from '../../devices/store.js';
import type { AssetStateRecord, DeviceCredentialRecord } from '../../devices/types.js';
import { ASSET_STATE, CREDENTIAL } from './columns.js';
import type { Database } from './database.js';
import { fromRow, select, toParams, upsert } from './rows.js';

const S = {
  putCredential: upsert('credentials_put', 'device_credentials', CREDENTIAL, 'credential_id'),
  getCredential: select('credentials_get', 'SELECT * FROM device_credentials WHERE credential_id = $1'),
  listCredentials: select('credentials_list', 'SELECT * FROM device_credentials WHERE asset_id = $1 ORDER BY pos'),
  getState: select('asset_states_get', 'SELECT * FROM asset_states WHERE asset_id = $1'),
  putState: upsert('asset_states_put', 'asset_states', ASSET_STATE, 'asset_id'),
};

export class PostgresDevicesStore implements DevicesStore {
  private readonly db: Database;

  constructor(db: Database) {
    this.db = db;
  }

  async putCredential(credential: DeviceCredentialRecord): Promise<void> {
    await this.db.rows(S.putCredential, toParams(credential, CREDENTIAL));
  }

  async getCredential(credentialId: string): Promise<DeviceCredentialRecord | undefined> {
    const row = (await this.db.rows(S.getCredential, [credentialId]))[0];
    return row && fromRow<DeviceCredentialRecord>(row, CREDENTIAL);
  }

  async listCredentials(assetId: string): Promise<DeviceCredentialRecord[]> {
    return (await this.db.rows(S.listCredentials, [assetId])).map((r) => fromRow<DeviceCredentialRecord>(r, CREDENTIAL));
  }

  async getState(assetId: string): Promise<AssetStateRecord | undefined> {
    const row = (await this.db.rows(S.getState, [assetId]))[0];
    return row && fromRow<AssetStateRecord>(row, ASSET_STATE);
  }

  async putState(state: AssetStateRecord): Promise<void> {
    await this.db.rows(S.putState, toParams(state, ASSET_STATE));
  }
}
