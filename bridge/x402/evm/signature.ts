/**
 * Checking an authorization's signature (EIP-712 over EIP-3009 `TransferWithAuthorization`). An EOA's: its form
 * checked as USDC checks it (low `s`, `v` 27/28), then the digest computed and the signer recovered by the node —
 * keccak and the `ecrecover` precompile in the `eth_call` that carries the reads of the verifications in flight
 * (batch-reads.ts; `ecrecover: 'rpc'`, the default: several times the verifications per second of doing it in
 * JavaScript, see bench/x402-verify.ts) — or both locally (digest.ts, @noble/curves; `ecrecover: 'local'`). Anything else — an ERC-1271
 * contract wallet, or an ERC-6492 wrapper of a wallet not deployed yet — is checked on chain by viem's
 * `verifyTypedData` (the ERC-6492 universal validator, run deployless in an `eth_call`).
 */
import { parseErc6492Signature, type Address, type Hex } from 'viem';
import { verifyTypedData } from 'viem/actions';
import type { ExactEvmAuthorization } from '../types.js';
import { TRANSFER_WITH_AUTHORIZATION_TYPES } from './abi.js';
import { authorizationDigest, recoverSigner, wellFormedSignature } from './digest.js';
import type { Eip712Domain, EvmNetwork } from './network.js';

export type SignatureCheck = { ok: true; erc6492?: { factory: Address; data: Hex; inner: Hex } } | { ok: false; reason: 'signature' | 'undeployed' };

export function authorizationTypedData(domain: Eip712Domain, chainId: number, token: Address, a: ExactEvmAuthorization) {
  return {
    domain: { name: domain.name, version: domain.version, chainId, verifyingContract: token },
    types: TRANSFER_WITH_AUTHORIZATION_TYPES,
    primaryType: 'TransferWithAuthorization' as const,
    message: {
      from: a.from,
      to: a.to,
      value: BigInt(a.value),
      validAfter: BigInt(a.validAfter),
      validBefore: BigInt(a.validBefore),
      nonce: a.nonce,
    },
  };
}

const ERC6492_MAGIC = '6492649264926492649264926492649264926492649264926492649264926492';

export async function checkSignature(
  network: EvmNetwork,
  domain: Eip712Domain,
  token: Address,
  a: ExactEvmAuthorization,
  signature: Hex,
): Promise<SignatureCheck> {
  const typedData = authorizationTypedData(domain, network.chainId, token, a);
  // ERC-6492: a counterfactual wallet's signature carries its factory and deploy calldata.
  if (signature.toLowerCase().endsWith(ERC6492_MAGIC)) {
    let parsed: ReturnType<typeof parseErc6492Signature>;
    try {
      parsed = parseErc6492Signature(signature);
    } catch {
      return { ok: false, reason: 'signature' };
    }
    if (!parsed.address || !parsed.data) return { ok: false, reason: 'signature' };
    const erc6492 = { factory: parsed.address, data: parsed.data, inner: parsed.signature };
    const deployed = await network.hasCode(a.from);
    if (!deployed && !network.factoryAllowed(parsed.address)) return { ok: false, reason: 'undeployed' };
    const valid = await verifyTypedData(network.client, { address: a.from, signature, ...typedData });
    return valid ? { ok: true, erc6492 } : { ok: false, reason: 'signature' };
  }
  // An EOA: ECDSA recovery (digest.ts), by the node's ecrecover precompile or locally.
  if (wellFormedSignature(signature)) {
    const signer =
      network.config.ecrecover === 'local'
        ? recoverSigner(authorizationDigest(network.separator(token, domain), a), signature)
        : await network.recoverAuthorization(token, domain, a, signature);
    if (signer === a.from.toLowerCase()) return { ok: true };
  }
  // ERC-1271: only a contract can vouch for a signature recovery did not match.
  if (!(await network.hasCode(a.from))) return { ok: false, reason: 'signature' };
  const valid = await verifyTypedData(network.client, { address: a.from, signature, ...typedData });
  return valid ? { ok: true } : { ok: false, reason: 'signature' };
}
