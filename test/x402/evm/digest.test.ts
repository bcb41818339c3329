/**
 * digest.ts against viem: the EIP-712 digest of random authorizations equals `hashTypedData`, recovery finds the
 * signer viem's account signed with, and malleable or malformed signatures recover nobody. Plus a fixed vector.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { bytesToHex, hashTypedData, type Hex } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { authorizationDigest, domainSeparator, recoverSigner } from '../../../bridge/x402/evm/digest.js';
import { authorizationTypedData } from '../../../bridge/x402/evm/signature.js';

const hex = (n: number): Hex => `0x${randomBytes(n).toString('hex')}`;
const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

describe('EIP-3009 digest and recovery', () => {
  it('matches viem on 25 random authorizations and domains', async () => {
    for (let i = 0; i < 25; i++) {
      const account = privateKeyToAccount(hex(32));
      const token = hex(20);
      const domain = { name: i % 2 ? 'USDC' : `Token ${i} ✓`, version: String(i) };
      const chainId = 1 + ((i * 7919) % 100_000);
      const a = {
        from: account.address,
        to: hex(20),
        value: BigInt(hex(i % 32 || 1)).toString(),
        validAfter: String(i),
        validBefore: String(2n ** 40n + BigInt(i)),
        nonce: hex(32),
      };
      const typed = authorizationTypedData(domain, chainId, token, a);
      const digest = authorizationDigest(domainSeparator(domain.name, domain.version, chainId, token), a);
      expect(bytesToHex(digest)).toBe(hashTypedData(typed));
      const signature = await account.signTypedData(typed);
      expect(recoverSigner(digest, signature)).toBe(account.address.toLowerCase());
    }
  });

  it('a known vector: Base Sepolia USDC domain', () => {
    const separator = domainSeparator('USDC', '2', 84532, '0x036CbD53842c5426634e7929541eC2318f3dCF7e');
    const a = {
      from: '0x857b06519E91e3A54538791bDbb0E22373e36b66',
      to: '0x209693Bc6afc0C5328bA36FaF03C514EF312287C',
      value: '10000',
      validAfter: '1740672089',
      validBefore: '1740672154',
      nonce: '0xf3746613c2d920b5fdabc0856f2aeb2d4f88ee6037b8cc5d04a71a4462f13480',
    } as const;
    const typed = authorizationTypedData({ name: 'USDC', version: '2' }, 84532, '0x036CbD53842c5426634e7929541eC2318f3dCF7e', a);
    expect(bytesToHex(authorizationDigest(separator, a))).toBe(hashTypedData(typed));
  });

  it('recovers nobody from a high-s twin, a bad v, a wrong length or garbage', async () => {
    const account = privateKeyToAccount(hex(32));
    const digest = Uint8Array.from(randomBytes(32));
    const signature = await account.sign({ hash: bytesToHex(digest) });
    expect(recoverSigner(digest, signature)).toBe(account.address.toLowerCase());
    // The malleable twin (s' = n - s, v flipped) is refused as USDC's ECRecover refuses it (EIP-2).
    const s = BigInt(`0x${signature.slice(66, 130)}`);
    const v = Number.parseInt(signature.slice(130), 16);
    const twin = `${signature.slice(0, 66)}${(N - s).toString(16).padStart(64, '0')}${(v === 27 ? 28 : 27).toString(16)}`;
    expect(recoverSigner(digest, twin)).toBeUndefined();
    expect(recoverSigner(digest, `${signature.slice(0, 130)}1d`)).toBeUndefined();
    expect(recoverSigner(digest, signature.slice(0, 128))).toBeUndefined();
    expect(recoverSigner(digest, `0x${'00'.repeat(65)}`)).toBeUndefined();
    // v as 0/1 is accepted like 27/28.
    expect(recoverSigner(digest, `${signature.slice(0, 130)}${(v - 27).toString(16).padStart(2, '0')}`)).toBe(account.address.toLowerCase());
  });
});
