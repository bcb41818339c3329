-- An asset's x402 terms ({pay_to, prices: [{network, asset, amount}]}), or NULL when it takes none.
ALTER TABLE assets ADD COLUMN x402 jsonb;
