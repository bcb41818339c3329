/**
 * The chain reads of verifications in flight, gathered into one `eth_call` (contracts/VerifyReads.sol, run
 * deployless). Each verification needs the payer's balance, its nonce's `authorizationState` and, for an EOA, the
 * signer of the authorization — whose EIP-712 digest the node computes too (two keccaks in the EVM cost less than
 * one in JavaScript) before its `ecrecover` precompile recovers the signer. Asked one by one that is three calls per verification, and the node's
 * cost per call bounds the rate; gathered, the reads of every verification that arrives in one turn of the event
 * loop share one call — at most `maxPerCall` queries in it and `maxInflight` calls at once, the rest waiting for
 * the next free slot, which gathers them too. The same query twice in one call is asked once (many payments of one
 * payer need one balance). A token that does not answer fails the verifications that read it; a call the node
 * refuses fails the verifications in it.
 */
import { readFileSync } from 'node:fs';
import type { Address, Hex } from 'viem';
import type { ExactEvmAuthorization } from '../types.js';

const ARTIFACT = JSON.parse(readFileSync(new URL('./contracts/artifacts.json', import.meta.url), 'utf8')) as Record<string, { bytecode: Hex }>;
const BYTECODE = (ARTIFACT['VerifyReads'] as { bytecode: Hex }).bytecode;

export interface TokenReads {
  balance: bigint;
  used: boolean;
}

interface Query<T> {
  /** The query's words, hex without 0x. */
  words: string;
  waiters: { resolve(value: T): void; reject(err: unknown): void }[];
}

export interface BatchReadsOptions {
  /** Queries (balances, nonces and authorizations) in one call (default 96: up to three per verification). */
  maxPerCall?: number;
  /** Calls in flight at once (default 2). */
  maxInflight?: number;
}

/** A token that did not answer `balanceOf` or `authorizationState` with one word. */
export class TokenReadError extends Error {
  constructor(token: Address, what: string) {
    super(`token ${token} did not answer ${what}`);
    this.name = 'TokenReadError';
  }
}

const word = (hex: string): string => hex.slice(2).toLowerCase().padStart(64, '0');
const uint = (decimal: string): string => BigInt(decimal).toString(16).padStart(64, '0');

/** One kind of query, deduplicated while it waits for a call. */
class Pending<T> {
  readonly queries = new Map<string, Query<T>>();

  add(words: string, resolve: (value: T) => void, reject: (err: unknown) => void): void {
    let query = this.queries.get(words);
    if (!query) {
      query = { words, waiters: [] };
      this.queries.set(words, query);
    }
    query.waiters.push({ resolve, reject });
  }

  /** Up to `max` queries, oldest first, out of the waiting ones. */
  take(max: number): Query<T>[] {
    const out: Query<T>[] = [];
    for (const [key, query] of this.queries) {
      if (out.length >= max) break;
      out.push(query);
      this.queries.delete(key);
    }
    return out;
  }

  get size(): number {
    return this.queries.size;
  }
}

/** Where the calls go: a JSON-RPC endpoint (json-rpc.ts). */
export interface RpcEndpoint {
  request(method: string, params: unknown[]): Promise<unknown>;
}

export class BatchReads {
  private readonly rpc: RpcEndpoint;
  private readonly maxPerCall: number;
  private readonly maxInflight: number;
  private readonly balances = new Pending<bigint>();
  private readonly nonces = new Pending<boolean>();
  private readonly authorizations = new Pending<string | undefined>();
  private scheduled = false;
  private inflight = 0;
  /** Calls made and queries answered by them (after deduplication), for the bench and the tests. */
  readonly stats = { calls: 0, queries: 0 };

  constructor(rpc: RpcEndpoint, options: BatchReadsOptions = {}) {
    this.rpc = rpc;
    this.maxPerCall = Math.min(Math.max(3, options.maxPerCall ?? 96), 128);
    this.maxInflight = Math.max(1, options.maxInflight ?? 2);
  }

  /** The payer's balance of `token` and whether `nonce` is used (EIP-3009 `authorizationState`), read together. */
  async read(token: Address, from: Address, nonce: Hex): Promise<TokenReads> {
    const balance = new Promise<bigint>((resolve, reject) => this.balances.add(word(token) + word(from), resolve, reject));
    const used = new Promise<boolean>((resolve, reject) => this.nonces.add(word(token) + word(from) + word(nonce), resolve, reject));
    this.schedule();
    const [b, u] = await Promise.all([balance, used]);
    return { balance: b, used: u };
  }

  /**
   * Who signed an EIP-3009 `TransferWithAuthorization` under a token's EIP-712 domain separator with a 65-byte
   * `signature`, according to the `ecrecover` precompile (lowercase 0x address), or undefined. The precompile takes
   * high-s signatures the token refuses: the caller checks the form first.
   */
  recoverAuthorization(separator: Uint8Array, a: ExactEvmAuthorization, signature: string): Promise<string | undefined> {
    const v = Number.parseInt(signature.slice(130, 132), 16);
    const words =
      Buffer.from(separator).toString('hex') +
      word(a.from) +
      word(a.to) +
      uint(a.value) +
      uint(a.validAfter) +
      uint(a.validBefore) +
      word(a.nonce) +
      (v < 27 ? v + 27 : v).toString(16).padStart(64, '0') +
      signature.slice(2, 130).toLowerCase();
    return new Promise((resolve, reject) => {
      this.authorizations.add(words, resolve, reject);
      this.schedule();
    });
  }

  private get waiting(): number {
    return this.balances.size + this.nonces.size + this.authorizations.size;
  }

  private schedule(): void {
    if (this.scheduled || this.inflight >= this.maxInflight) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    if (this.waiting === 0) return;
    // A verification needs one of each kind, so each kind gets a third of the call, oldest first, and what one
    // kind leaves (a balance many payments share) goes to the others: under a backlog no kind waits behind
    // another, and the verifications that came first are answered first.
    const third = Math.floor(this.maxPerCall / 3);
    const nonces = this.nonces.take(third);
    const balances = this.balances.take(third);
    const authorizations = this.authorizations.take(third);
    nonces.push(...this.nonces.take(this.maxPerCall - nonces.length - balances.length - authorizations.length));
    authorizations.push(...this.authorizations.take(this.maxPerCall - nonces.length - balances.length - authorizations.length));
    balances.push(...this.balances.take(this.maxPerCall - nonces.length - balances.length - authorizations.length));
    this.inflight++;
    this.stats.calls++;
    this.stats.queries += balances.length + nonces.length + authorizations.length;
    void this.call(balances, nonces, authorizations).finally(() => {
      this.inflight--;
      if (this.waiting > 0) this.schedule();
    });
    if (this.waiting > 0) this.schedule();
  }

  private async call(balances: Query<bigint>[], nonces: Query<boolean>[], authorizations: Query<string | undefined>[]): Promise<void> {
    const all = [...balances, ...nonces, ...authorizations] as Query<unknown>[];
    const count = balances.length * 2 + nonces.length + authorizations.length;
    let answer: string;
    try {
      const data = `${BYTECODE}${all.map((q) => q.words).join('')}${[balances.length, nonces.length, authorizations.length]
        .map((n) => n.toString(16).padStart(64, '0'))
        .join('')}` as Hex;
      const out = await this.rpc.request('eth_call', [{ data }, 'latest']);
      if (typeof out !== 'string' || !/^0x[0-9a-fA-F]*$/.test(out) || out.length !== 2 + 64 * count) {
        throw new Error(`VerifyReads answered ${typeof out === 'string' ? Math.floor((out.length - 2) / 2) : 0} bytes for ${count} words`);
      }
      answer = out.slice(2);
    } catch (err) {
      for (const q of all) for (const w of q.waiters) w.reject(err);
      return;
    }
    const at = (i: number): string => answer.slice(64 * i, 64 * (i + 1));
    const tokenOf = (q: Query<unknown>): Address => `0x${q.words.slice(24, 64)}`;
    balances.forEach((q, i) => {
      const ok = at(2 * i).endsWith('1');
      const balance = BigInt(`0x${at(2 * i + 1)}`);
      for (const w of q.waiters) ok ? w.resolve(balance) : w.reject(new TokenReadError(tokenOf(q as Query<unknown>), 'balanceOf'));
    });
    let index = balances.length * 2;
    for (const q of nonces) {
      const state = at(index++);
      for (const w of q.waiters)
        state.endsWith('2') ? w.reject(new TokenReadError(tokenOf(q as Query<unknown>), 'authorizationState')) : w.resolve(state.endsWith('1'));
    }
    for (const q of authorizations) {
      const signer = at(index++).slice(24);
      for (const w of q.waiters) w.resolve(/^0+$/.test(signer) ? undefined : `0x${signer}`);
    }
  }
}
