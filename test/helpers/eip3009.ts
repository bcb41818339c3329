/**
 * x402 `exact` EVM payments for tests: EIP-3009 authorizations signed by a test key (for an EOA, an ERC-1271
 * wallet, or an ERC-6492 counterfactual wallet), wrapped as v1 and v2 `/verify`/`/settle` bodies.
 */
import { randomBytes } from 'node:crypto';
import { encodeFunctionData, serializeErc6492Signature, type Address, type Hex } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { artifact, CHAIN_ID, TOKEN_ABI, TOKEN_NAME, TOKEN_VERSION, type TestChain } from './chain.js';

export interface AuthorizationInput {
  /** The signing key (the wallet's owner for smart wallets). */
  key: Hex;
  token: Address;
  to: Address;
  value: bigint | string;
  /** The authorizer; default the key's address. */
  from?: Address;
  validAfter?: bigint;
  validBefore?: bigint;
  nonce?: Hex;
  domain?: { name: string; version: string; chainId?: number };
}

export interface SignedPayment {
  signature: Hex;
  authorization: { from: Address; to: Address; value: string; validAfter: string; validBefore: string; nonce: Hex };
}

export const randomNonce = (): Hex => `0x${randomBytes(32).toString('hex')}`;
export const nowSeconds = (): bigint => BigInt(Math.floor(Date.now() / 1000));

export async function signAuthorization(input: AuthorizationInput): Promise<SignedPayment> {
  const account = privateKeyToAccount(input.key);
  const authorization = {
    from: input.from ?? account.address,
    to: input.to,
    value: BigInt(input.value),
    validAfter: input.validAfter ?? nowSeconds() - 60n,
    validBefore: input.validBefore ?? nowSeconds() + 300n,
    nonce: input.nonce ?? randomNonce(),
  };
  // EIP-712 over EIP-3009 TransferWithAuthorization.
  const signature = await account.signTypedData({
    domain: {
      name: input.domain?.name ?? TOKEN_NAME,
      version: input.domain?.version ?? TOKEN_VERSION,
      chainId: input.domain?.chainId ?? CHAIN_ID,
      verifyingContract: input.token,
    },
    types: {
      TransferWithAuthorization: [
        { name: 'from', type: 'address' },
        { name: 'to', type: 'address' },
        { name: 'value', type: 'uint256' },
        { name: 'validAfter', type: 'uint256' },
        { name: 'validBefore', type: 'uint256' },
        { name: 'nonce', type: 'bytes32' },
      ],
    },
    primaryType: 'TransferWithAuthorization',
    message: authorization,
  });
  return {
    signature,
    authorization: {
      from: authorization.from,
      to: authorization.to,
      value: authorization.value.toString(),
      validAfter: authorization.validAfter.toString(),
      validBefore: authorization.validBefore.toString(),
      nonce: authorization.nonce,
    },
  };
}

/** A counterfactual (not yet deployed) ERC-1271 wallet of `owner` from the test factory, and how to wrap its signatures (ERC-6492). */
export async function counterfactualWallet(
  chain: TestChain,
  owner: Address,
  salt: Hex = randomNonce(),
): Promise<{ address: Address; wrap(signature: Hex): Hex }> {
  const factory = artifact('SmartWalletFactory');
  const address = (await chain.client.readContract({ address: chain.factory, abi: factory.abi, functionName: 'predict', args: [owner, salt] })) as Address;
  const data = encodeFunctionData({ abi: factory.abi, functionName: 'deploy', args: [owner, salt] });
  return { address, wrap: (signature) => serializeErc6492Signature({ address: chain.factory, data, signature }) };
}

export interface RequirementsInput {
  asset: Address;
  payTo: Address;
  amount: bigint | string;
  network?: string;
  extra?: Record<string, unknown>;
}

/** A v1 body as the seed documents it (`payload` as an object, or base64 with `base64: true`). */
export function v1Body(payment: SignedPayment, r: RequirementsInput, options: { base64?: boolean } = {}): Record<string, unknown> {
  const network = r.network ?? 'base-sepolia';
  return {
    x402Version: 1,
    paymentPayload: {
      x402Version: 1,
      scheme: 'exact',
      network,
      payload: options.base64 ? Buffer.from(JSON.stringify(payment)).toString('base64') : payment,
    },
    paymentRequirements: {
      scheme: 'exact',
      network,
      maxAmountRequired: r.amount.toString(),
      resource: 'http://127.0.0.1/api/protected',
      description: 'Access to protected endpoint',
      mimeType: 'application/json',
      payTo: r.payTo,
      maxTimeoutSeconds: 60,
      asset: r.asset,
      extra: r.extra ?? { name: TOKEN_NAME, version: TOKEN_VERSION },
    },
  };
}

/** A v2 body (x402 v2 §7.1): the chosen requirements ride inside the payload as `accepted`. */
export function v2Body(payment: SignedPayment, r: RequirementsInput): Record<string, unknown> {
  const requirements = {
    scheme: 'exact',
    network: r.network ?? `eip155:${CHAIN_ID}`,
    amount: r.amount.toString(),
    asset: r.asset,
    payTo: r.payTo,
    maxTimeoutSeconds: 60,
    extra: r.extra ?? { name: TOKEN_NAME, version: TOKEN_VERSION },
  };
  return {
    x402Version: 2,
    paymentPayload: {
      x402Version: 2,
      resource: { url: 'http://127.0.0.1/api/protected', description: 'data', mimeType: 'application/json' },
      accepted: { ...requirements },
      payload: payment,
    },
    paymentRequirements: requirements,
  };
}

/** Use an authorization on chain directly (the deployer submits `transferWithAuthorization`), as another facilitator would. */
export function transferOnChain(chain: TestChain, payment: SignedPayment): Promise<Hex> {
  const a = payment.authorization;
  return chain.send(
    chain.token,
    encodeFunctionData({
      abi: TOKEN_ABI,
      functionName: 'transferWithAuthorization',
      args: [a.from, a.to, BigInt(a.value), BigInt(a.validAfter), BigInt(a.validBefore), a.nonce, payment.signature],
    }),
  );
}
