/**
 * The facilitator's people: signup, login, refresh-token rotation and revocation, admin-made users.
 * One account model (DESIGN.md "Identity"): each person is also a machine-payments account
 * (`role: user`), made with them, so the same person can own assets; `account_id` links the two.
 * The account is made after the user (the email is the unique thing); a crash in between is mended
 * at the next login, which makes the missing account.
 */
import { randomBytes } from 'node:crypto';
import { AppError } from '../../errors.js';
import { keyPrefix, newApiKey, newId, sha256Hex } from '../../ids.js';
import type { AccountsService, IssuedKey } from '../../machines/accounts.js';
import type { MachinesStore } from '../../machines/store.js';
import type { AccountRecord, ApiKeyRecord } from '../../machines/types.js';
import { slug } from '../../slug.js';
import type { Page, X402Store, X402UserRecord } from '../store.js';
import type { PasswordHasher } from './passwords.js';
import { TokenRefused, type SessionTokens } from './tokens.js';

export interface LoginResult {
  user: X402UserRecord;
  accessToken: string;
  refreshToken: string;
}

export class UsersService {
  private readonly store: X402Store;
  private readonly machines: MachinesStore;
  private readonly accounts: AccountsService;
  private readonly passwords: PasswordHasher;
  private readonly tokens: SessionTokens;

  constructor(deps: { store: X402Store; machines: MachinesStore; accounts: AccountsService; passwords: PasswordHasher; tokens: SessionTokens }) {
    this.store = deps.store;
    this.machines = deps.machines;
    this.accounts = deps.accounts;
    this.passwords = deps.passwords;
    this.tokens = deps.tokens;
  }

  /** A new user (and their machine-payments account); 409 CONFLICT when the email is taken. */
  async create(input: { email: string; password: string; isAdmin: boolean }): Promise<X402UserRecord> {
    const email = input.email.toLowerCase();
    // Cheap refusal before the slow hash; the store's check below is the one that holds under races.
    if (await this.store.getUserByEmail(email)) throw emailTaken();
    const now = new Date().toISOString();
    const user = await this.store.createUser({
      email,
      password_hash: await this.passwords.hash(input.password),
      is_admin: input.isAdmin,
      account_id: newId(),
      created: now,
      updated: now,
    });
    if (!user) throw emailTaken();
    await this.ensureAccount(user);
    return user;
  }

  /** Tokens for a right email and password, or undefined (the caller answers the documented 401). */
  async login(emailInput: string, password: string): Promise<LoginResult | undefined> {
    const user = await this.store.getUserByEmail(emailInput.toLowerCase());
    const ok = user ? await this.passwords.verify(password, user.password_hash) : await this.passwords.verifyNothing(password);
    if (!user || !ok) return undefined;
    await this.ensureAccount(user);
    const refresh = await this.issueRefresh(user.id, newId(20));
    return { user, accessToken: await this.tokens.access(user.id), refreshToken: refresh };
  }

  /**
   * A new access token and the refresh token's successor. A rotated token used again means it was
   * stolen (or raced): its whole family is revoked, and the legitimate holder must log in again.
   */
  async refresh(refreshToken: string): Promise<{ accessToken: string; refreshToken: string }> {
    const claims = await this.tokens.verifyRefresh(refreshToken);
    const user = await this.store.getUser(claims.userId);
    if (!user) throw new TokenRefused('refresh token names no user');
    const next = await this.tokens.refresh(user.id, claims.familyId);
    const now = new Date().toISOString();
    const outcome = await this.store.rotateRefreshToken(
      claims.hash,
      { token_hash: next.hash, user_id: user.id, family_id: claims.familyId, created: now, expires_at: next.expiresAt, rotated_at: null, revoked_at: null },
      now,
    );
    switch (outcome) {
      case 'rotated':
        return { accessToken: await this.tokens.access(user.id), refreshToken: next.token };
      case 'reused':
        throw new TokenRefused('refresh token was already used; every token of this session is now revoked: log in again');
      case 'revoked':
        throw new TokenRefused('refresh token has been revoked');
      case 'unknown':
        throw new TokenRefused('refresh token is unknown');
    }
  }

  /** Revoke the refresh token's whole session (logout). */
  async revoke(refreshToken: string): Promise<void> {
    const claims = await this.tokens.verifyRefresh(refreshToken);
    const stored = await this.store.getRefreshToken(claims.hash);
    if (!stored) throw new TokenRefused('refresh token is unknown');
    await this.store.revokeRefreshFamily(stored.family_id, new Date().toISOString());
  }

  /** The user an access token belongs to; throws TokenRefused. */
  async byAccessToken(token: string): Promise<X402UserRecord> {
    const user = await this.store.getUser(await this.tokens.verifyAccess(token));
    if (!user) throw new TokenRefused('access token names no user');
    return user;
  }

  list(page: Page): Promise<X402UserRecord[]> {
    return this.store.listUsers(page);
  }

  /** A live machine-payments API key for the person's account (shown once). */
  async issueApiKey(user: X402UserRecord, label: string | null): Promise<IssuedKey> {
    const account = await this.ensureAccount(user);
    const placeholder = (await this.machines.listKeys(account.user_id))[0] as ApiKeyRecord;
    return this.accounts.createKey({ account, key: placeholder, scope: 'full', via: 'session' }, { scope: 'full', label });
  }

  /**
   * The person's machine-payments account, made if missing. It is made with a key revoked at birth
   * (an account always has a first key; a person signs in with a password, not a key).
   */
  async ensureAccount(user: X402UserRecord): Promise<AccountRecord> {
    const existing = await this.machines.getAccount(user.account_id);
    if (existing) return existing;
    const now = new Date().toISOString();
    const base = slug(user.email.split('@')[0] ?? '', 32, 'user');
    const account: AccountRecord = {
      user_id: user.account_id,
      username: base,
      display_name: base,
      lightning_address: null,
      role: 'user',
      created: now,
      updated: now,
    };
    const apiKey = newApiKey();
    const key: ApiKeyRecord = {
      key_id: newId(),
      user_id: user.account_id,
      hash: sha256Hex(`${apiKey}${randomBytes(16).toString('hex')}`),
      prefix: keyPrefix(apiKey),
      scope: 'full',
      label: 'x402 signup',
      created: now,
      revoked_at: now,
    };
    for (;;) {
      if (await this.machines.createAccount(account, key)) return account;
      // Two logins mending one account race: the other made it.
      const made = await this.machines.getAccount(user.account_id);
      if (made) return made;
      account.username = `${base}-${newId(6)}`;
    }
  }

  private async issueRefresh(userId: number, familyId: string): Promise<string> {
    const { token, hash, expiresAt } = await this.tokens.refresh(userId, familyId);
    await this.store.putRefreshToken({
      token_hash: hash,
      user_id: userId,
      family_id: familyId,
      created: new Date().toISOString(),
      expires_at: expiresAt,
      rotated_at: null,
      revoked_at: null,
    });
    return token;
  }
}

function emailTaken(): AppError {
  return new AppError(409, 'CONFLICT', 'An account with this email already exists');
}
