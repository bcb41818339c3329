/** The devices store on the embedded journal. */
import type { DevicesStore } from '../../devices/store.js';
import type { AssetStateRecord, DeviceCredentialRecord } from '../../devices/types.js';
import type { Journal } from './engine.js';

const CREDENTIALS = 'device_credentials';
const STATES = 'asset_states';

export class JournalDevicesStore implements DevicesStore {
  private readonly journal: Journal;
  private readonly byAsset = new Map<string, string[]>();

  /** Registers its index on the journal; call before `journal.open()`. */
  constructor(journal: Journal) {
    this.journal = journal;
    journal.onApply((c, id, next, prev) => {
      if (c !== CREDENTIALS || prev !== undefined) return;
      const n = next as DeviceCredentialRecord;
      const list = this.byAsset.get(n.asset_id) ?? [];
      list.push(id);
      this.byAsset.set(n.asset_id, list);
    });
  }

  async putCredential(credential: DeviceCredentialRecord): Promise<void> {
    await this.journal.commit([{ c: CREDENTIALS, id: credential.credential_id, doc: credential }]);
  }

  async getCredential(credentialId: string): Promise<DeviceCredentialRecord | undefined> {
    return this.journal.get<DeviceCredentialRecord>(CREDENTIALS, credentialId);
  }

  async listCredentials(assetId: string): Promise<DeviceCredentialRecord[]> {
    return (this.byAsset.get(assetId) ?? []).map((id) => this.journal.get<DeviceCredentialRecord>(CREDENTIALS, id) as DeviceCredentialRecord);
  }

  async getState(assetId: string): Promise<AssetStateRecord | undefined> {
    return this.journal.get<AssetStateRecord>(STATES, assetId);
  }

  async putState(state: AssetStateRecord): Promise<void> {
    await this.journal.commit([{ c: STATES, id: state.asset_id, doc: state }]);
  }
}
