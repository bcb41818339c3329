/**
 * The `invalidReason` / `errorReason` strings the facilitator answers: the reference facilitators' (`x402` 1.x
 * `ErrorReasons`, x402 v2 §9), plus the two v2 facilitators report (`nonce_already_used`, `settlement_pending`)
 * and one of ours (`fee_payer_out_of_gas`). docs/x402-facilitator.md lists them.
 */
export const REASON = {
  unsupportedScheme: 'unsupported_scheme',
  invalidNetwork: 'invalid_network',
  /** Also an asset that is not registered and active on the network. */
  invalidRequirements: 'invalid_payment_requirements',
  invalidPayload: 'invalid_payload',
  signature: 'invalid_exact_evm_payload_signature',
  recipient: 'invalid_exact_evm_payload_recipient_mismatch',
  validBefore: 'invalid_exact_evm_payload_authorization_valid_before',
  validAfter: 'invalid_exact_evm_payload_authorization_valid_after',
  /** v1: value below `maxAmountRequired`. */
  value: 'invalid_exact_evm_payload_authorization_value',
  /** v2: value not equal to `amount`. */
  valueMismatch: 'invalid_exact_evm_payload_authorization_value_mismatch',
  insufficientFunds: 'insufficient_funds',
  /** An ERC-6492 wallet not yet deployed whose factory is not allowed (`erc6492Factories`). */
  undeployedWallet: 'invalid_exact_evm_payload_undeployed_smart_wallet',
  /** `authorizationState(from, nonce)` is true, or the ledger holds it settled. */
  nonceUsed: 'nonce_already_used',
  /** Sent, no receipt yet: reconciled in the background; the payer must not sign again. */
  pending: 'settlement_pending',
  /** The settlement transaction reverted. */
  transactionState: 'invalid_transaction_state',
  /** The fee payer cannot pay for gas: nothing was sent, nothing charged. */
  feePayerOutOfGas: 'fee_payer_out_of_gas',
  verifyError: 'unexpected_verify_error',
  settleError: 'unexpected_settle_error',
} as const;

export type Reason = (typeof REASON)[keyof typeof REASON];
