/**
 * The EIP-712 digest of an EIP-3009 `TransferWithAuthorization` and ECDSA recovery of its signer, done directly:
 * the struct has fixed fields, so its hash is one keccak over seven 32-byte words and the domain separator is
 * computed once per token (viem's generic `hashTypedData` spends ~1 ms on validation and encoding). Recovery is
 * @noble/curves (what viem uses), with USDC's rules: `v` 27 or 28 (0/1 accepted), `s` in the lower half
 * (EIP-2), else no signer. test/x402/evm/digest.test.ts checks both against viem.
 */
import { secp256k1 } from '@noble/curves/secp256k1';
import { keccak_256 } from '@noble/hashes/sha3.js';
import type { ExactEvmAuthorization } from '../types.js';

const enc = new TextEncoder();
const EIP712_DOMAIN_TYPEHASH = keccak_256(enc.encode('EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)'));
// EIP-3009
const TRANSFER_WITH_AUTHORIZATION_TYPEHASH = keccak_256(
  enc.encode('TransferWithAuthorization(address from,address to,uint256 value,uint256 validAfter,uint256 validBefore,bytes32 nonce)'),
);
const HALF_N = secp256k1.CURVE.n >> 1n;

function hexBytes(hex: string): Uint8Array {
  return Uint8Array.from(Buffer.from(hex.startsWith('0x') ? hex.slice(2) : hex, 'hex'));
}

/** A 32-byte big-endian word of `value` (uint256 or a 20-byte address left-padded). */
function word(out: Uint8Array, offset: number, value: bigint): void {
  let v = value;
  for (let i = 31; i >= 0; i--) {
    out[offset + i] = Number(v & 0xffn);
    v >>= 8n;
  }
}

/** EIP-712 domain separator `{name, version, chainId, verifyingContract}`. */
export function domainSeparator(name: string, version: string, chainId: number, token: string): Uint8Array {
  const buf = new Uint8Array(32 * 5);
  buf.set(EIP712_DOMAIN_TYPEHASH, 0);
  buf.set(keccak_256(enc.encode(name)), 32);
  buf.set(keccak_256(enc.encode(version)), 64);
  word(buf, 96, BigInt(chainId));
  word(buf, 128, BigInt(token));
  return keccak_256(buf);
}

/** EIP-712 digest `keccak256(0x1901 ‖ domainSeparator ‖ hashStruct(authorization))`. */
export function authorizationDigest(separator: Uint8Array, a: ExactEvmAuthorization): Uint8Array {
  const s = new Uint8Array(32 * 7);
  s.set(TRANSFER_WITH_AUTHORIZATION_TYPEHASH, 0);
  word(s, 32, BigInt(a.from));
  word(s, 64, BigInt(a.to));
  word(s, 96, BigInt(a.value));
  word(s, 128, BigInt(a.validAfter));
  word(s, 160, BigInt(a.validBefore));
  s.set(hexBytes(a.nonce), 192);
  const d = new Uint8Array(66);
  d[0] = 0x19;
  d[1] = 0x01;
  d.set(separator, 2);
  d.set(keccak_256(s), 34);
  return keccak_256(d);
}

/** Whether a 65-byte signature has the form USDC's ECRecover takes: `v` 27/28 (or 0/1), `r` and `s` in range, `s` low (EIP-2). */
export function wellFormedSignature(signature: string): boolean {
  if (signature.length !== 132) return false;
  const v = Number.parseInt(signature.slice(130, 132), 16);
  if (v !== 0 && v !== 1 && v !== 27 && v !== 28) return false;
  const r = BigInt(`0x${signature.slice(2, 66)}`);
  const s = BigInt(`0x${signature.slice(66, 130)}`);
  return r > 0n && r < secp256k1.CURVE.n && s > 0n && s <= HALF_N;
}

/** The lowercase 0x address that signed `digest` with a 65-byte `signature`, or undefined. */
export function recoverSigner(digest: Uint8Array, signature: string): string | undefined {
  if (!wellFormedSignature(signature)) return undefined;
  const bytes = hexBytes(signature);
  const v = (bytes[64] as number) % 27;
  try {
    const sig = secp256k1.Signature.fromCompact(bytes.subarray(0, 64));
    const point = sig.addRecoveryBit(v).recoverPublicKey(digest);
    const hash = keccak_256(point.toRawBytes(false).subarray(1));
    return `0x${Buffer.from(hash.subarray(12)).toString('hex')}`;
  } catch {
    return undefined;
  }
}
