-- Paywire on PostgreSQL, schema version 3: the x402 settlement ledger (bridge/x402/ledger.ts). One row per
-- EIP-3009 authorization, keyed by chain id, token, payer and nonce (`key`), so one authorization is sent at most
-- once across every bridge sharing the database. `value` is a uint256 in decimal (text: wider than bigint).
-- `key` is the only unique index on purpose: a claim is INSERT … ON CONFLICT (key), and a conflict on a second
-- unique index over the same columns would surface as an error under a race instead of a lost claim.

CREATE TABLE x402_settlements (
  key          text PRIMARY KEY,
  chain_id     bigint NOT NULL,
  network      text NOT NULL,
  token        text NOT NULL,
  payer        text NOT NULL,
  nonce        text NOT NULL,
  pay_to       text NOT NULL,
  value        text NOT NULL,
  x402_version integer NOT NULL,
  fee_payer    text NOT NULL,
  state        text NOT NULL CHECK (state IN ('sending', 'pending', 'settled', 'failed')),
  tx_hash      text,
  block_number bigint,
  error_reason text,
  created      timestamptz NOT NULL,
  updated      timestamptz NOT NULL
);
-- The reconciler's work list: rows still sending or pending, oldest first.
CREATE INDEX x402_settlements_unfinished ON x402_settlements (created, key) WHERE state IN ('sending', 'pending');
