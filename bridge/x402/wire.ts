/**
 * Parsing `/verify` and `/settle` bodies into a `FacilitatorRequest`, for x402 v1 and v2, once, at the edge.
 *
 * - v1 (the seed's format, `x402` 1.x): `{x402Version?, paymentPayload: {x402Version: 1, scheme, network,
 *   payload}, paymentRequirements: {scheme, network, maxAmountRequired, resource, …}}`; `payload` is the
 *   `{signature, authorization}` object, or that object (or a whole payment payload, as in the `X-PAYMENT`
 *   header) as base64 JSON. The whole `paymentPayload` may also come as one base64 string.
 * - v2 (`specs/x402-specification-v2.md` §5.2, §7.1): `{x402Version: 2, paymentPayload: {x402Version: 2,
 *   resource?, accepted, payload, extensions?}, paymentRequirements: {scheme, network (CAIP-2), amount, asset,
 *   payTo, maxTimeoutSeconds, extra?}}`.
 *
 * A body that is not an object, lacks a part, or whose requirements are malformed is `INVALID_REQUEST`; a payment
 * payload that cannot be decoded (bad base64, bad JSON, a malformed signature or authorization) is
 * `INVALID_PAYLOAD`. Checks against the chain and the registry come later (evm/verify.ts): this file only shapes.
 */
import { z } from 'zod';
import type {
  ExactEvmPayload,
  FacilitatorRequest,
  FacilitatorRequestProblem,
  PaymentPayloadV1,
  PaymentPayloadV2,
  PaymentRequirementsV1,
  PaymentRequirementsV2,
} from './types.js';

const MAX_UINT256 = (1n << 256n) - 1n;
/** Longest signature accepted, in hex characters: ERC-6492 wrappers carry factory calldata, but not megabytes. */
const MAX_SIGNATURE_HEX = 16_384;
/** Longest base64 payload accepted (the body limit caps it too). */
const MAX_BASE64 = 65_536;

const address = z.string().regex(/^0x[0-9a-fA-F]{40}$/, 'must be a 0x-prefixed 20-byte hex address');
/** uint256 as a decimal string; numbers are accepted when they are safe integers (some clients send them). */
const uint256 = z
  .union([z.string(), z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER)])
  .transform((v) => String(v))
  .refine((s) => /^\d{1,78}$/.test(s) && BigInt(s) <= MAX_UINT256, 'must be a decimal uint256');
const bytes32 = z.string().regex(/^0x[0-9a-fA-F]{64}$/, 'must be 32 bytes of 0x-prefixed hex');
const signature = z
  .string()
  .max(MAX_SIGNATURE_HEX + 2)
  .regex(/^0x([0-9a-fA-F]{2})+$/, 'must be 0x-prefixed hex bytes');
const text = (max: number) => z.string().max(max);
const extra = z.record(z.string(), z.unknown()).nullish();

// EIP-3009 `transferWithAuthorization` parameters (x402 `exact` on EVM).
const authorizationSchema = z.object({
  from: address,
  to: address,
  value: uint256,
  validAfter: uint256,
  validBefore: uint256,
  nonce: bytes32,
});

const exactEvmPayloadSchema = z.object({ signature, authorization: authorizationSchema });

const requirementsV1Schema = z.object({
  scheme: text(64).min(1),
  network: text(128).min(1),
  maxAmountRequired: uint256,
  resource: text(4096),
  description: text(4096),
  mimeType: text(256),
  payTo: address,
  maxTimeoutSeconds: z.number().int().nonnegative().max(31_536_000),
  asset: address,
  outputSchema: z.record(z.string(), z.unknown()).nullish(),
  extra,
});

// x402 v2 §5.1 PaymentRequirements.
const requirementsV2Schema = z.object({
  scheme: text(64).min(1),
  network: text(128).min(1),
  amount: uint256,
  asset: address,
  payTo: address,
  maxTimeoutSeconds: z.number().int().nonnegative().max(31_536_000),
  extra,
});

// v1 PaymentPayload, apart from its `payload` (exactPayload below).
const payloadHeadV1Schema = z.object({ scheme: text(64).min(1), network: text(128).min(1) });

const resourceV2Schema = z.object({ url: text(4096), description: text(4096).optional(), mimeType: text(256).optional() });

type Problem = FacilitatorRequestProblem;
const problem = (code: Problem['code'], details: string): Problem => ({ code, details });

/** Whether `parseFacilitatorRequest` refused the body. */
export function isRequestProblem(value: FacilitatorRequest | FacilitatorRequestProblem): value is FacilitatorRequestProblem {
  return 'code' in value && !('paymentPayload' in value);
}

function describe(error: z.ZodError, prefix: string): string {
  const issue = error.issues[0];
  if (!issue) return `${prefix} is invalid`;
  const path = issue.path.length > 0 ? `${prefix}.${issue.path.join('.')}` : prefix;
  return `${path}: ${issue.message}`;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** base64 (standard or url-safe) JSON → value, or undefined when it is not that. */
function decodeBase64Json(s: string): unknown {
  const trimmed = s.trim();
  if (trimmed.length === 0 || trimmed.length > MAX_BASE64 || !/^[A-Za-z0-9+/_-]+={0,2}$/.test(trimmed)) return undefined;
  try {
    return JSON.parse(Buffer.from(trimmed, 'base64').toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}

/** The `exact` EVM payload out of an object or base64 JSON (itself, or a whole payment payload holding it). */
function exactPayload(raw: unknown): { value: ExactEvmPayload } | { error: string } {
  let value = raw;
  if (typeof value === 'string') {
    value = decodeBase64Json(value);
    if (value === undefined) return { error: 'paymentPayload.payload is neither an object nor base64-encoded JSON' };
  }
  if (isObject(value) && !('signature' in value) && isObject(value['payload'])) value = value['payload'];
  const parsed = exactEvmPayloadSchema.safeParse(value);
  if (!parsed.success) return { error: describe(parsed.error, 'paymentPayload.payload') };
  return { value: parsed.data as ExactEvmPayload };
}

function version(v: unknown): 1 | 2 | undefined {
  return v === 1 || v === 2 ? v : undefined;
}

/**
 * Shape a `/verify` or `/settle` body. The version is the body's `x402Version`, else the payment payload's; the
 * two must agree when both are given.
 */
export function parseFacilitatorRequest(body: unknown): FacilitatorRequest | FacilitatorRequestProblem {
  if (!isObject(body)) return problem('INVALID_REQUEST', 'the body must be a JSON object');
  let rawPayload = body['paymentPayload'];
  if (typeof rawPayload === 'string') {
    const decoded = decodeBase64Json(rawPayload);
    if (!isObject(decoded)) return problem('INVALID_PAYLOAD', 'paymentPayload is a string but not base64-encoded JSON');
    rawPayload = decoded;
  }
  if (!isObject(rawPayload)) return problem('INVALID_REQUEST', 'paymentPayload: must be an object');
  const rawRequirements = body['paymentRequirements'];
  if (!isObject(rawRequirements)) return problem('INVALID_REQUEST', 'paymentRequirements: must be an object');

  const outer = body['x402Version'];
  const inner = rawPayload['x402Version'];
  if (outer !== undefined && version(outer) === undefined) return problem('INVALID_REQUEST', 'x402Version: must be 1 or 2');
  if (version(inner) === undefined) return problem('INVALID_REQUEST', 'paymentPayload.x402Version: must be 1 or 2');
  if (outer !== undefined && outer !== inner) return problem('INVALID_REQUEST', 'x402Version and paymentPayload.x402Version differ');
  return inner === 1 ? parseV1(rawPayload, rawRequirements) : parseV2(rawPayload, rawRequirements);
}

function parseV1(rawPayload: Record<string, unknown>, rawRequirements: Record<string, unknown>): FacilitatorRequest | Problem {
  const requirements = requirementsV1Schema.safeParse(rawRequirements);
  if (!requirements.success) return problem('INVALID_REQUEST', describe(requirements.error, 'paymentRequirements'));
  const head = payloadHeadV1Schema.safeParse(rawPayload);
  if (!head.success) return problem('INVALID_REQUEST', describe(head.error, 'paymentPayload'));
  const payload = exactPayload(rawPayload['payload']);
  if ('error' in payload) return problem('INVALID_PAYLOAD', payload.error);
  const paymentPayload: PaymentPayloadV1 = { x402Version: 1, scheme: head.data.scheme, network: head.data.network, payload: payload.value };
  return { x402Version: 1, paymentPayload, paymentRequirements: requirements.data as PaymentRequirementsV1 };
}

function parseV2(rawPayload: Record<string, unknown>, rawRequirements: Record<string, unknown>): FacilitatorRequest | Problem {
  const requirements = requirementsV2Schema.safeParse(rawRequirements);
  if (!requirements.success) return problem('INVALID_REQUEST', describe(requirements.error, 'paymentRequirements'));
  const accepted = requirementsV2Schema.safeParse(rawPayload['accepted']);
  if (!accepted.success) return problem('INVALID_PAYLOAD', describe(accepted.error, 'paymentPayload.accepted'));
  const resource = rawPayload['resource'] === undefined ? undefined : resourceV2Schema.safeParse(rawPayload['resource']);
  if (resource && !resource.success) return problem('INVALID_PAYLOAD', describe(resource.error, 'paymentPayload.resource'));
  const extensions = rawPayload['extensions'];
  if (extensions !== undefined && extensions !== null && !isObject(extensions))
    return problem('INVALID_PAYLOAD', 'paymentPayload.extensions: must be an object');
  // Only the `exact` scheme's payload is known here; another scheme's is kept as an object and refused by verify.
  let payload: ExactEvmPayload | Record<string, unknown>;
  if (accepted.data.scheme === 'exact') {
    const exact = exactPayload(rawPayload['payload']);
    if ('error' in exact) return problem('INVALID_PAYLOAD', exact.error);
    payload = exact.value;
  } else if (isObject(rawPayload['payload'])) {
    payload = rawPayload['payload'];
  } else {
    return problem('INVALID_PAYLOAD', 'paymentPayload.payload: must be an object');
  }
  const paymentPayload: PaymentPayloadV2 = {
    x402Version: 2,
    accepted: accepted.data as PaymentRequirementsV2,
    payload,
    ...(resource?.success ? { resource: resource.data as PaymentPayloadV2['resource'] & object } : {}),
    ...(isObject(extensions) ? { extensions } : {}),
  };
  return { x402Version: 2, paymentPayload, paymentRequirements: requirements.data as PaymentRequirementsV2 };
}

/** The `exact` EVM payload of a request, or undefined when its scheme carries another shape (v2 only). */
export function exactEvmPayloadOf(request: FacilitatorRequest): ExactEvmPayload | undefined {
  const payload = request.paymentPayload.payload as Partial<ExactEvmPayload>;
  return typeof payload.signature === 'string' && isObject(payload.authorization) ? (payload as ExactEvmPayload) : undefined;
}
