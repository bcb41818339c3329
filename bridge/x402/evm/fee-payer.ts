/**
 * Sending the fee payer's transactions without nonce collisions: submissions of one fee payer are serialized and
 * take their account nonce from a local counter (read from the chain's pending count at first use), so concurrent
 * settlements never reuse or skip a nonce. After a failed send the counter is dropped and read again; a send
 * refused for its nonce is retried once with the fresh count. Transactions are signed locally (EIP-1559) and sent
 * raw; fees are read at most once a second.
 */
import { BaseError, HttpRequestError, keccak256, TimeoutError, type Address, type Hex } from 'viem';
import type { EvmNetwork } from './network.js';

const FEE_CACHE_MS = 1_000;
/** Submissions one fee payer holds waiting at most; more are refused (the RPC is not keeping up). */
export const MAX_QUEUED = 1_000;

/** The account cannot pay for gas (the node's wording varies: geth, Hardhat/EDR, anvil). */
export function isOutOfGasFunds(err: unknown): boolean {
  const text = errorText(err);
  return /insufficient funds|doesn't have enough funds|not enough funds|insufficient balance for transfer/i.test(text);
}

function isNonceError(err: unknown): boolean {
  return /nonce too low|nonce too high|nonce has already been used|already known|replacement transaction underpriced|invalid nonce/i.test(errorText(err));
}

/** The RPC did not answer (connection refused, timeout, HTTP error): not a verdict on the transaction. */
export function isTransportError(err: unknown): boolean {
  if (err instanceof BaseError) return err.walk((e) => e instanceof HttpRequestError || e instanceof TimeoutError) !== null;
  return false;
}

export function errorText(err: unknown): string {
  if (err instanceof BaseError) return [err.shortMessage, err.details, err.message].filter(Boolean).join(' | ');
  return err instanceof Error ? err.message : String(err);
}

export class FeePayer {
  private readonly network: EvmNetwork;
  private nextNonce: number | undefined;
  private tail: Promise<unknown> = Promise.resolve();
  private queued = 0;
  private fees: { at: number; value: Promise<{ maxFeePerGas: bigint; maxPriorityFeePerGas: bigint }> } | undefined;

  constructor(network: EvmNetwork) {
    this.network = network;
  }

  get address(): Address {
    const account = this.network.account;
    if (!account) throw new Error(`network ${this.network.network} has no fee payer`);
    return account.address;
  }

  private feesPerGas(): Promise<{ maxFeePerGas: bigint; maxPriorityFeePerGas: bigint }> {
    const now = Date.now();
    if (!this.fees || now - this.fees.at > FEE_CACHE_MS) {
      const value = this.network.client.estimateFeesPerGas({ chain: this.network.chain });
      this.fees = { at: now, value };
      value.catch(() => (this.fees = undefined));
    }
    return this.fees.value;
  }

  /** Run `fn` after every submission queued before it (one at a time per fee payer), at most MAX_QUEUED waiting. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    if (this.queued >= MAX_QUEUED) return Promise.reject(new Error(`fee payer queue full (${MAX_QUEUED} submissions waiting)`));
    this.queued++;
    const run = this.tail.then(fn, fn).finally(() => this.queued--);
    this.tail = run.catch(() => undefined);
    return run;
  }

  /** Sign and send one call; resolves with its hash once the node accepted it. */
  /**
   * Sign and send one transaction from the fee payer, in nonce order. `signed` hears each signed transaction's
   * hash before it is sent: when the send fails without an answer, the transaction may be out all the same.
   */
  async submit(call: { to: Address; data: Hex; gas: bigint }, signed?: (hash: Hex) => void): Promise<Hex> {
    const account = this.network.account;
    if (!account) throw new Error(`network ${this.network.network} has no fee payer`);
    const fees = await this.feesPerGas();
    const client = this.network.client;
    return this.serial(async () => {
      for (let attempt = 0; ; attempt++) {
        this.nextNonce ??= await client.getTransactionCount({ address: account.address, blockTag: 'pending' });
        const nonce = this.nextNonce;
        const serializedTransaction = await account.signTransaction({
          type: 'eip1559',
          chainId: this.network.chainId,
          nonce,
          to: call.to,
          data: call.data,
          gas: call.gas,
          value: 0n,
          ...fees,
        });
        const hash = keccak256(serializedTransaction);
        signed?.(hash);
        try {
          await client.sendRawTransaction({ serializedTransaction });
          this.nextNonce = nonce + 1;
          return hash;
        } catch (err) {
          // The node has this very transaction (a retry of a send whose answer was lost): it is sent.
          if (/already known|known transaction/i.test(errorText(err))) {
            this.nextNonce = nonce + 1;
            return hash;
          }
          this.nextNonce = undefined;
          if (attempt === 0 && isNonceError(err)) continue;
          throw err;
        }
      }
    });
  }
}

/** What a mined transaction cost its sender (wei). */
export function gasFee(receipt: { gasUsed: bigint; effectiveGasPrice?: bigint | undefined }): bigint {
  return receipt.gasUsed * (receipt.effectiveGasPrice ?? 0n);
}
