/** Each table's columns, named and typed as its record's fields (see migrations/001_init.sql). */
import type { Columns } from './rows.js';

export const ACCOUNT: Columns = {
  user_id: 'text',
  username: 'text',
  display_name: 'text',
  lightning_address: 'text',
  role: 'text',
  created: 'time',
  updated: 'time',
};

export const API_KEY: Columns = {
  key_id: 'text',
  user_id: 'text',
  hash: 'text',
  prefix: 'text',
  scope: 'text',
  label: 'text',
  created: 'time',
  revoked_at: 'time',
};

export const ASSET: Columns = {
  asset_id: 'text',
  user_id: 'text',
  name: 'text',
  price_sats: 'num',
  duration_ms: 'num',
  pricing: 'text',
  min_sats: 'num',
  max_sats: 'num',
  refuse_when_offline: 'bool',
  metadata: 'json',
  created: 'time',
  updated: 'time',
  deleted_at: 'time',
};

/** An event as written (the store assigns `seq`). */
export const EVENT: Columns = {
  event_id: 'text',
  user_id: 'text',
  type: 'text',
  asset_id: 'text',
  external_id: 'text',
  data: 'json',
  source: 'text',
  created: 'time',
};
export const EVENT_ROW: Columns = { seq: 'num', ...EVENT };

export const WEBHOOK: Columns = {
  user_id: 'text',
  url: 'text',
  events: 'json',
  disabled_at: 'time',
  created: 'time',
  updated: 'time',
};

export const DELIVERY: Columns = {
  delivery_id: 'text',
  user_id: 'text',
  event_id: 'text',
  event_type: 'text',
  status: 'text',
  attempts: 'json',
  next_attempt_at: 'time',
  created: 'time',
  updated: 'time',
};
export const DELIVERY_ROW: Columns = { seq: 'num', ...DELIVERY };

export const LINK: Columns = {
  link_id: 'text',
  user_id: 'text',
  asset_id: 'text',
  name: 'text',
  primary: 'bool',
  comment_allowed: 'num',
  success_message: 'text',
  created: 'time',
  updated: 'time',
};

export const PAYMENT: Columns = {
  payment_id: 'text',
  user_id: 'text',
  asset_id: 'text',
  link_id: 'text',
  amount_sats: 'num',
  duration_ms: 'num',
  payment_hash: 'text',
  pr: 'text',
  status: 'text',
  rail: 'text',
  backend: 'text',
  backend_ref: 'text',
  wallet_version: 'text?',
  comment: 'text',
  preimage: 'text',
  expires_at: 'time',
  created: 'time',
  settled_at: 'time',
  event_id: 'text',
  device_acked_at: 'time',
  /** Paid after its asset was deleted: recorded, never sent to a machine (the operator refunds). */
  refund_due: 'bool?',
  /** Rail x402: network, token, amount, payer, transaction. */
  x402: 'json?',
  /** What a payment buys other than a machine run (a license). */
  purchase: 'json?',
};
export const PAYMENT_ROW: Columns = { seq: 'num', ...PAYMENT };

export const WALLET: Columns = {
  user_id: 'text',
  backend: 'text',
  settings: 'json',
  secrets_sealed: 'text',
  created: 'time',
  updated: 'time',
};

export const DEV_INVOICE: Columns = {
  payment_hash: 'text',
  preimage: 'text',
  amount_msat: 'num',
  expires_at: 'time',
  settled_at: 'time',
};

export const CREDENTIAL: Columns = {
  credential_id: 'text',
  user_id: 'text',
  asset_id: 'text',
  hash: 'text',
  label: 'text',
  created: 'time',
  revoked_at: 'time',
};

export const ASSET_STATE: Columns = {
  asset_id: 'text',
  user_id: 'text',
  online: 'bool',
  last_seen: 'time',
};
