/**
 * Which Lightning backend makes an account's invoices: the account's own wallet when it set one
 * (`PUT /api/v1/accounts/me/wallet`), else the server default. Wallet secrets are sealed at rest and
 * never shown again. Backend instances are built once per wallet version and reused; those that
 * push settlements (`watch`) are watched from the moment they are built until the wallet changes or
 * is removed.
 */
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { z } from 'zod';
import { AppError } from '../errors.js';
import type { Outbound } from '../http/outbound.js';
import { validate } from '../http/validate.js';
import type { AccountRecord } from '../machines/types.js';
import type { Sealer } from '../sealer.js';
import { BackendError, type BackendSpec, type LightningBackend, type SettledListener } from './backends/backend.js';
import type { DevBackend } from './backends/dev.js';
import type { LightningStore } from './store.js';
import type { BackendKind, WalletRecord } from './types.js';

export interface BackendChoice {
  kind: BackendKind;
  settings: Record<string, string>;
  secrets: Record<string, string>;
}

export interface WalletView {
  backend: BackendKind;
  /** `account`: the account's own wallet; `server`: the bridge's default. */
  source: 'account' | 'server';
  settings: Record<string, string>;
  /** Names of the secrets that are set (their values are never shown). */
  secrets_set: string[];
  created: string | null;
  updated: string | null;
}

export interface WalletsOptions {
  store: LightningStore;
  sealer: Sealer;
  specs: Partial<Record<BackendKind, BackendSpec>>;
  /** The bridge's own node, when the dev backend is active. */
  dev: DevBackend | undefined;
  serverDefault: BackendChoice;
  timeoutMs: number;
  /** The guarded client backends fetch wallet URLs and Lightning addresses through. */
  outbound: Outbound;
  /** The client for the server's default backend (its own host allowed: the operator chose it). */
  serverOutbound?: Outbound;
  log: Logger;
}

interface Built {
  backend: LightningBackend;
  stop: (() => Promise<void>) | undefined;
}

export class Wallets {
  private serverVersion: string | undefined;
  private readonly options: WalletsOptions;
  private readonly built = new Map<string, Built>();
  private listener: SettledListener | undefined;

  constructor(options: WalletsOptions) {
    this.options = options;
  }

  /** Where pushed settlements go; backends built before and after this call are watched. */
  onSettled(listener: SettledListener): void {
    this.listener = listener;
    for (const built of this.built.values()) this.watch(built);
  }

  async stop(): Promise<void> {
    this.listener = undefined;
    await Promise.allSettled([...this.built.values()].map((b) => b.stop?.()));
    this.built.clear();
  }

  /** The backend that makes (and looks up) this account's invoices. */
  async backendFor(account: Pick<AccountRecord, 'user_id' | 'lightning_address'>): Promise<LightningBackend> {
    const wallet = await this.options.store.getWallet(account.user_id);
    const choice: BackendChoice = wallet
      ? { kind: wallet.backend, settings: wallet.settings, secrets: wallet.secrets_sealed ? this.options.sealer.open(wallet.secrets_sealed) : {} }
      : this.options.serverDefault;
    // One instance per wallet version; the server default is shared unless it depends on the account.
    const key = wallet
      ? `${account.user_id}@${wallet.updated}`
      : choice.kind === 'lnaddress'
        ? `server:${account.user_id}:${account.lightning_address ?? ''}`
        : 'server';
    const hit = this.built.get(key);
    if (hit) return hit.backend;
    if (wallet) void this.dropWallet(account.user_id, key);
    const built: Built = { backend: this.build(choice, account, wallet ? 'account' : 'server'), stop: undefined };
    this.built.set(key, built);
    this.watch(built);
    return built.backend;
  }

  /**
   * Which wallet makes this account's invoices now: its kind and its settings (the server, the store),
   * not its secrets. Stored on each payment: an invoice can only be looked up at the wallet that made
   * it, not at one the account switched to since; saving the same wallet again, or with a rotated key,
   * keeps its pending invoices.
   */
  async versionFor(userId: string): Promise<string> {
    const wallet = await this.options.store.getWallet(userId);
    if (wallet) return `account:${walletIdentity(wallet.backend, wallet.settings)}`;
    return (this.serverVersion ??= `server:${walletIdentity(this.options.serverDefault.kind, this.options.serverDefault.settings)}`);
  }

  async view(userId: string): Promise<WalletView> {
    const wallet = await this.options.store.getWallet(userId);
    if (!wallet) {
      const d = this.options.serverDefault;
      return { backend: d.kind, source: 'server', settings: {}, secrets_set: [], created: null, updated: null };
    }
    const secrets = wallet.secrets_sealed ? Object.keys(this.options.sealer.open<Record<string, string>>(wallet.secrets_sealed)) : [];
    return {
      backend: wallet.backend,
      source: 'account',
      settings: wallet.settings,
      secrets_set: secrets.sort(),
      created: wallet.created,
      updated: wallet.updated,
    };
  }

  /** Set the account's own backend from a request body `{backend, ...settings, ...secrets}`. */
  async set(account: Pick<AccountRecord, 'user_id' | 'lightning_address'>, body: unknown): Promise<WalletView> {
    const kind = validate(z.looseObject({ backend: z.enum(this.choosableKinds() as [BackendKind, ...BackendKind[]]) }), body).backend;
    const fields = { ...(body as Record<string, unknown>) };
    delete fields['backend'];
    let settings: Record<string, string> = {};
    let secrets: Record<string, string> = {};
    if (kind === 'dev') {
      validate(z.strictObject({}), fields);
    } else {
      const spec = this.options.specs[kind] as BackendSpec;
      const settingsShape = (spec.settings as unknown as z.ZodObject).shape;
      const secretsShape = (spec.secrets as unknown as z.ZodObject).shape;
      validate(z.strictObject({ ...settingsShape, ...secretsShape }), fields);
      settings = validate(spec.settings, pick(fields, Object.keys(settingsShape)));
      secrets = validate(spec.secrets, pick(fields, Object.keys(secretsShape)));
      if (kind === 'lnaddress' && !settings['address'] && !account.lightning_address) {
        throw new AppError(400, 'invalid_body', 'The lnaddress backend needs an address: give one, or sign the account up with a lightning_address');
      }
      this.refuseForbiddenAddress(settings);
      await this.check({ kind, settings, secrets }, account);
    }
    const now = new Date().toISOString();
    const existing = await this.options.store.getWallet(account.user_id);
    const wallet: WalletRecord = {
      user_id: account.user_id,
      backend: kind,
      settings,
      secrets_sealed: Object.keys(secrets).length > 0 ? this.options.sealer.seal(secrets) : null,
      created: existing?.created ?? now,
      updated: now,
    };
    await this.options.store.putWallet(wallet);
    await this.dropWallet(account.user_id, `${account.user_id}@${wallet.updated}`);
    return this.view(account.user_id);
  }

  /** Go back to the server default. */
  async remove(userId: string): Promise<WalletView> {
    await this.options.store.deleteWallet(userId);
    await this.dropWallet(userId);
    return this.view(userId);
  }

  /** Kinds an account may choose: the configurable ones, and `dev` only while the dev node runs. */
  choosableKinds(): BackendKind[] {
    const kinds = Object.keys(this.options.specs) as BackendKind[];
    return this.options.dev ? ['dev', ...kinds] : kinds;
  }

  /** Webhook secrets of the BTCPay store `storeId`: the server default's (`user_id` null) and each account wallet's. */
  async btcpaySecretsFor(storeId: string): Promise<{ user_id: string | null; secret: string }[]> {
    const found: { user_id: string | null; secret: string }[] = [];
    const d = this.options.serverDefault;
    if (d.kind === 'btcpay' && d.settings['store_id'] === storeId && d.secrets['webhook_secret'])
      found.push({ user_id: null, secret: d.secrets['webhook_secret'] });
    for (const wallet of await this.options.store.btcpayWallets(storeId)) {
      const secret = wallet.secrets_sealed ? this.options.sealer.open<Record<string, string>>(wallet.secrets_sealed)['webhook_secret'] : undefined;
      if (secret) found.push({ user_id: wallet.user_id, secret });
    }
    return found;
  }

  /**
   * Ask a wallet about to be saved whether it can serve at all (an LND must have an invoice lookup):
   * a definite "cannot" is a 400; no answer is not, the backend may be up later.
   */
  private async check(choice: BackendChoice, account: Pick<AccountRecord, 'user_id' | 'lightning_address'>): Promise<void> {
    const backend = this.build(choice, account, 'account');
    if (!backend.check) return;
    try {
      await backend.check();
    } catch (err) {
      if (err instanceof BackendError && !err.transient) throw new AppError(400, 'invalid_body', `This ${choice.kind} wallet cannot be used: ${err.message}`);
    }
  }

  /**
   * A wallet URL (or Lightning address) written as a private, loopback or otherwise forbidden IP
   * address is refused at once; names are checked each time they are fetched (they can change).
   */
  private refuseForbiddenAddress(settings: Record<string, string>): void {
    const address = settings['address'];
    const checks: [string, string | undefined][] = [
      ['url', settings['url']],
      ['address', address === undefined ? undefined : `https://${address.slice(address.lastIndexOf('@') + 1)}/`],
    ];
    for (const [field, url] of checks) {
      const range = url === undefined ? undefined : this.options.outbound.literalRefusal(url);
      if (range !== undefined) {
        const problem = `points at a ${range} address, which this server does not connect to`;
        throw new AppError(400, 'invalid_body', `Invalid body: ${field}: ${problem}`, { details: [{ field, problem }] });
      }
    }
  }

  private build(choice: BackendChoice, account: Pick<AccountRecord, 'user_id' | 'lightning_address'>, source: 'account' | 'server'): LightningBackend {
    if (choice.kind === 'dev') {
      if (!this.options.dev) throw new AppError(500, 'backend_unavailable', 'The dev Lightning backend is not active on this server');
      return this.options.dev;
    }
    const spec = this.options.specs[choice.kind];
    if (!spec) throw new AppError(500, 'backend_unavailable', `The ${choice.kind} Lightning backend is not available on this server`);
    return spec.create(choice.settings, choice.secrets, {
      timeoutMs: this.options.timeoutMs,
      outbound: source === 'server' ? (this.options.serverOutbound ?? this.options.outbound) : this.options.outbound,
      account: { user_id: account.user_id, lightning_address: account.lightning_address },
      source,
    });
  }

  /**
   * Stop and forget the backends built for the account's own wallet, but `keep`. Only the wallet
   * version that made an invoice may look it up, so once the wallet changes or goes they serve
   * nothing, and an invoice stream would otherwise go on with the old credentials.
   */
  private async dropWallet(userId: string, keep?: string): Promise<void> {
    const stops: Promise<void>[] = [];
    for (const [k, b] of this.built) {
      if (k.startsWith(`${userId}@`) && k !== keep) {
        this.built.delete(k);
        if (b.stop) stops.push(b.stop());
      }
    }
    await Promise.allSettled(stops);
  }

  private watch(built: Built): void {
    if (!this.listener || built.stop || !built.backend.watch) return;
    built.stop = built.backend.watch((hash, preimage) => this.listener?.(hash, preimage));
  }
}

function pick(source: Record<string, unknown>, keys: string[]): Record<string, unknown> {
  return Object.fromEntries(keys.filter((k) => k in source).map((k) => [k, source[k]]));
}

/** A short digest of a wallet's kind and settings, whatever order the settings were given in. */
function walletIdentity(kind: string, settings: Record<string, string>): string {
  const sorted = Object.keys(settings)
    .sort()
    .map((k) => [k, settings[k]]);
  return createHash('sha256')
    .update(JSON.stringify([kind, sorted]))
    .digest('hex')
    .slice(0, 16);
}
