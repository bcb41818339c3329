/** The slice of an EIP-3009 token (USDC FiatTokenV2_2 and ours) the facilitator calls. */
import { parseAbi } from 'viem';

// EIP-3009 `transferWithAuthorization` (the bytes-signature form of FiatTokenV2_2, which takes ERC-1271 wallets),
// `authorizationState`, ERC-20 `balanceOf`, and the EIP-712 domain's `name`/`version`.
export const EIP3009_ABI = parseAbi([
  'function transferWithAuthorization(address from, address to, uint256 value, uint256 validAfter, uint256 validBefore, bytes32 nonce, bytes signature)',
  'function authorizationState(address authorizer, bytes32 nonce) view returns (bool)',
  'function balanceOf(address account) view returns (uint256)',
  'function name() view returns (string)',
  'function version() view returns (string)',
]);

// EIP-3009 / EIP-712 typed data of an authorization.
export const TRANSFER_WITH_AUTHORIZATION_TYPES = {
  TransferWithAuthorization: [
    { name: 'from', type: 'address' },
    { name: 'to', type: 'address' },
    { name: 'value', type: 'uint256' },
    { name: 'validAfter', type: 'uint256' },
    { name: 'validBefore', type: 'uint256' },
    { name: 'nonce', type: 'bytes32' },
  ],
} as const;
