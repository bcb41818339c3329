/** Records of the machines' side: device credentials and what the broker knows of each asset's device. */

/** An MQTT login for one asset: username `dev_<credential_id>`, a password shown once. */
export interface DeviceCredentialRecord {
  credential_id: string;
  user_id: string;
  asset_id: string;
  /** sha256 of the password, hex. */
  hash: string;
  label: string | null;
  created: string;
  revoked_at: string | null;
}

/** Whether an asset's device is connected, as its `status` topic (and last will) last said. */
export interface AssetStateRecord {
  asset_id: string;
  user_id: string;
  online: boolean;
  /** The last time the bridge heard from the device. */
  last_seen: string;
}
