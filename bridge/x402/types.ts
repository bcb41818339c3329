/**
 * The seams of the x402 facilitator, fixed before its parts are built so they fit:
 * - `Facilitator` (bridge/x402/facilitator.ts, with evm/): verify and settle the `exact` scheme on EVM,
 *   x402 v1 and v2, given a request already shaped by `parseFacilitatorRequest` (bridge/x402/wire.ts).
 * - `AssetRegistry` (the token registry of `POST /admin/assets` plus config): which tokens are accepted.
 * - The REST layer (routes, users, client keys, resources, metrics) calls the facilitator and records
 *   what it answered; the asset purchase route calls it in process.
 * Wire formats: x402 v1 (`x402` 1.x) and v2 (`specs/x402-specification-v2.md`,
 * `specs/schemes/exact/scheme_exact_evm.md` in the x402 repository).
 */

/** EIP-3009 `transferWithAuthorization` fields; numbers as decimal strings on the wire. */
export interface ExactEvmAuthorization {
  from: `0x${string}`;
  to: `0x${string}`;
  value: string;
  validAfter: string;
  validBefore: string;
  /** 32 bytes, hex. */
  nonce: `0x${string}`;
}

export interface ExactEvmPayload {
  signature: `0x${string}`;
  authorization: ExactEvmAuthorization;
}

/** x402 v1 requirements (the seed's `paymentRequirements`). */
export interface PaymentRequirementsV1 {
  scheme: string;
  network: string;
  maxAmountRequired: string;
  resource: string;
  description: string;
  mimeType: string;
  payTo: string;
  maxTimeoutSeconds: number;
  asset: string;
  outputSchema?: Record<string, unknown> | null;
  extra?: Record<string, unknown> | null;
}

/** x402 v2 requirements: CAIP-2 `network`, `amount` instead of `maxAmountRequired`, resource moved out. */
export interface PaymentRequirementsV2 {
  scheme: string;
  network: string;
  amount: string;
  asset: string;
  payTo: string;
  maxTimeoutSeconds: number;
  extra?: Record<string, unknown> | null;
}

export interface PaymentPayloadV1 {
  x402Version: 1;
  scheme: string;
  network: string;
  payload: ExactEvmPayload;
}

export interface ResourceInfoV2 {
  url: string;
  description?: string;
  mimeType?: string;
}

export interface PaymentPayloadV2 {
  x402Version: 2;
  resource?: ResourceInfoV2;
  /** The requirements the payer chose, carried inside the payload. */
  accepted: PaymentRequirementsV2;
  payload: ExactEvmPayload | Record<string, unknown>;
  extensions?: Record<string, unknown>;
}

/** A `/verify` or `/settle` body after parsing: one version throughout. */
export type FacilitatorRequest =
  | { x402Version: 1; paymentPayload: PaymentPayloadV1; paymentRequirements: PaymentRequirementsV1 }
  | { x402Version: 2; paymentPayload: PaymentPayloadV2; paymentRequirements: PaymentRequirementsV2 };

/** Why a body is not a facilitator request: the seed's `INVALID_REQUEST` or `INVALID_PAYLOAD` (both 400). */
export interface FacilitatorRequestProblem {
  code: 'INVALID_REQUEST' | 'INVALID_PAYLOAD';
  details: string;
}

/** The seed's verify answer (v1 fields; v2 clients read `isValid`, `invalidReason`, `payer`). */
export interface VerifyAnswer {
  isValid: boolean;
  /** '' when valid; otherwise the reference facilitator's reason string (see FACTS.md). */
  invalidReason: string;
  payer: string;
  timestamp: number;
  cachedResult: boolean;
}

/** The seed's settle answer. */
export interface SettleAnswer {
  success: boolean;
  transaction: string;
  errorReason: string;
  network: string;
  payer: string;
  blockNumber: number;
  /** ISO 8601. */
  timestamp: string;
  /** The transaction was sent but its receipt had not arrived in time: not a failure, reconciled later. */
  pending?: boolean;
  /**
   * What the fee payer paid in gas for a settled payment (wei, decimal: gasUsed × effectiveGasPrice of its
   * transactions). For the settlement metrics; never sent on the wire (the route drops it).
   */
  fee?: string;
}

/** One kind of payment the facilitator takes (`/supported`, `/networks`). */
export interface SupportedKind {
  x402Version: 1 | 2;
  scheme: string;
  /** v1 name (`base-sepolia`) or v2 CAIP-2 id (`eip155:84532`). */
  network: string;
  extra?: Record<string, unknown>;
}

/** A configured network as `/status` and `/networks` show it. */
export interface NetworkStatus {
  x402Version: 1 | 2;
  scheme: string;
  network: string;
  status: 'active' | 'inactive';
  /** The latest block read from its RPC (0 when it could not be read). */
  block: number;
  feePayer: string;
}

export interface Facilitator {
  verify(request: FacilitatorRequest): Promise<VerifyAnswer>;
  /** Never settles one authorization twice: a repeat, concurrent or later, returns the first transaction. */
  settle(request: FacilitatorRequest): Promise<SettleAnswer>;
  supported(): Promise<SupportedKind[]>;
  networks(): Promise<NetworkStatus[]>;
  stop(): Promise<void>;
}

/** A token in the registry. */
export interface RegisteredAsset {
  id: number;
  /** The v1 network name as registered (`base-sepolia`). */
  network: string;
  /** The token's address, checksummed. */
  asset: string;
  symbol: string;
  decimals: number;
  active: boolean;
}

export interface AssetRegistry {
  /** The active registration of `asset` on `network` (a v1 name or a CAIP-2 id), compared case-insensitively. */
  findActive(network: string, asset: string): Promise<RegisteredAsset | undefined>;
}
