/**
 * The published x402 clients, unmodified, as the compatibility tests (test/x402/agents/) and bench/x402
 * use them. They live in this folder's own package (`npm ci --prefix test/compat`), so they resolve from
 * here; viem comes from the same place, so the signers handed to them are of their own viem.
 */
export { createPaymentHeader, selectPaymentRequirements } from 'x402/client';
export { useFacilitator } from 'x402/verify';
export { verify as referenceVerifyV1, settle as referenceSettleV1 } from 'x402/facilitator';
export { createSigner, PaymentPayloadSchema as PaymentPayloadSchemaV1, PaymentRequirementsSchema as PaymentRequirementsSchemaV1 } from 'x402/types';
export type { PaymentRequirements as PaymentRequirementsV1, PaymentPayload as PaymentPayloadV1 } from 'x402/types';
export { x402Client, x402HTTPClient } from '@x402/core/client';
export { HTTPFacilitatorClient } from '@x402/core/server';
export { x402Facilitator } from '@x402/core/facilitator';
export { ExactEvmScheme as ExactEvmClientScheme } from '@x402/evm/exact/client';
export { ExactEvmScheme as ExactEvmFacilitatorScheme } from '@x402/evm/exact/facilitator';
export { toClientEvmSigner, toFacilitatorEvmSigner } from '@x402/evm';
export { createPublicClient, createWalletClient, http, publicActions, defineChain } from 'viem';
export { privateKeyToAccount } from 'viem/accounts';
