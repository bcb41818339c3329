/** Machine accounts and their API keys: signup, rotation, read-only keys, the GUI session exchange. */
import { AppError } from '../errors.js';
import type { EventBus } from '../events.js';
import { keyPrefix, newApiKey, newId, sha256Hex } from '../ids.js';
import type { Metrics } from '../metrics.js';
import { slug } from '../slug.js';
import type { AuthService, Principal } from './auth.js';
import { OneAtATime } from './one-at-a-time.js';
import type { MachinesStore } from './store.js';
import type { AccountRecord, ApiKeyRecord, KeyScope } from './types.js';

export interface IssuedKey {
  key: ApiKeyRecord;
  /** The plaintext key: returned once, never stored. */
  apiKey: string;
}

export interface AccountLimits {
  /** Live API keys an account may hold at once (MAX_KEYS_PER_ACCOUNT). */
  maxKeysPerAccount: number;
  metrics: Metrics;
}

export class AccountsService {
  private readonly store: MachinesStore;
  private readonly auth: AuthService;
  private readonly bus: EventBus;
  private readonly limits: AccountLimits;
  /** Key creation per account, one at a time: the count and the write must not interleave. */
  private readonly keyWrites = new OneAtATime();

  constructor(store: MachinesStore, auth: AuthService, bus: EventBus, limits: AccountLimits) {
    this.store = store;
    this.auth = auth;
    this.bus = bus;
    this.limits = limits;
  }

  async signup(input: { label: string; lightning_address?: string | null | undefined }): Promise<{ account: AccountRecord } & IssuedKey> {
    const now = new Date().toISOString();
    const userId = newId();
    const base = slug(input.label, 32, 'machine');
    const account: AccountRecord = {
      user_id: userId,
      username: base,
      display_name: input.label,
      lightning_address: input.lightning_address ?? null,
      role: 'machine',
      created: now,
      updated: now,
    };
    const issued = this.newKey(userId, 'full', null, now);
    // The store refuses a taken username (two signups racing for one label: one gets it): the
    // others take the label with a random suffix.
    while (!(await this.store.createAccount(account, issued.key))) account.username = `${base}-${newId(6)}`;
    return { account, ...issued };
  }

  /** Replace the calling key with a new one; the old key stops working at once. */
  async rotate(principal: Principal): Promise<IssuedKey> {
    const now = new Date().toISOString();
    const issued = this.newKey(principal.account.user_id, principal.key.scope, principal.key.label, now);
    await this.store.rotateKey(principal.key.key_id, issued.key, now);
    this.bus.emit('credential.revoked', { credentialId: principal.key.key_id });
    return issued;
  }

  /** Another key for the account, while it holds fewer than `maxKeysPerAccount` live ones (409 key_limit_reached). */
  createKey(principal: Principal, input: { scope: KeyScope; label?: string | null | undefined }): Promise<IssuedKey> {
    const userId = principal.account.user_id;
    return this.keyWrites.run(userId, async () => {
      const max = this.limits.maxKeysPerAccount;
      if ((await this.listKeys(principal)).length >= max) {
        this.limits.metrics.refuse('http', 'key_limit_reached');
        throw new AppError(
          409,
          'key_limit_reached',
          `This account already has ${max} live API keys, the most it may hold: revoke one first (DELETE /api/v1/accounts/me/keys/{key_id})`,
        );
      }
      const issued = this.newKey(userId, input.scope, input.label ?? null, new Date().toISOString());
      await this.store.addKey(issued.key);
      return issued;
    });
  }

  async listKeys(principal: Principal): Promise<ApiKeyRecord[]> {
    return (await this.store.listKeys(principal.account.user_id)).filter((k) => k.revoked_at === null);
  }

  async revokeKey(principal: Principal, keyId: string): Promise<ApiKeyRecord> {
    const key = await this.store.getKey(keyId);
    if (!key || key.user_id !== principal.account.user_id || key.revoked_at !== null) {
      throw new AppError(404, 'key_not_found', `No live API key ${keyId} on this account`);
    }
    if (key.key_id === principal.key.key_id) {
      throw new AppError(400, 'invalid_body', 'A key cannot revoke itself: use POST /api/v1/accounts/me/rotate-key');
    }
    const at = new Date().toISOString();
    await this.store.revokeKey(keyId, at);
    this.bus.emit('credential.revoked', { credentialId: keyId });
    return { ...key, revoked_at: at };
  }

  /** The GUI login: a live API key buys a 24 h session token. */
  async exchange(apiKey: string): Promise<{ token: string; principal: Principal }> {
    const principal = await this.auth.byApiKey(apiKey);
    return { token: await this.auth.issueSession(principal), principal };
  }

  private newKey(userId: string, scope: KeyScope, label: string | null, now: string): IssuedKey {
    const apiKey = newApiKey();
    return {
      apiKey,
      key: {
        key_id: newId(),
        user_id: userId,
        hash: sha256Hex(apiKey),
        prefix: keyPrefix(apiKey),
        scope,
        label,
        created: now,
        revoked_at: null,
      },
    };
  }
}
