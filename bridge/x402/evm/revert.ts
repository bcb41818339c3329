/** A refused `transferWithAuthorization` simulation, named with the reason the checks would have given. */
import { errorText } from './fee-payer.js';
import { REASON, type Reason } from './reasons.js';

// The revert strings of FiatTokenV2 (USDC) and of ERC-20 implementations.
const PATTERNS: [RegExp, Reason][] = [
  [/authorization is used|used or canceled|AuthorizationAlreadyUsed/i, REASON.nonceUsed],
  [/invalid signature|InvalidSignature/i, REASON.signature],
  [/exceeds balance|insufficient balance|InsufficientBalance/i, REASON.insufficientFunds],
  [/not yet valid/i, REASON.validAfter],
  [/authorization is expired|expired/i, REASON.validBefore],
];

export function revertReason(err: unknown): Reason {
  const text = errorText(err);
  for (const [pattern, reason] of PATTERNS) if (pattern.test(text)) return reason;
  return REASON.transactionState;
}
