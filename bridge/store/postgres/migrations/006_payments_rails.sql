-- Schema version 6: payments beyond a Lightning invoice for a machine. An x402 payment (rail `x402`)
-- carries its on-chain facts; a license purchase pays for no machine (asset_id NULL) and says what
-- it bought. Such payments never enter the MQTT outbox.
ALTER TABLE payments ALTER COLUMN asset_id DROP NOT NULL;
ALTER TABLE payments ADD COLUMN x402 jsonb;
ALTER TABLE payments ADD COLUMN purchase jsonb;
