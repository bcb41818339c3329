import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBridge, type TestBridge } from '../helpers/bridge.js';

let t: TestBridge;
beforeAll(async () => {
  t = await startBridge();
});
afterAll(async () => {
  await t.close();
});

describe('POST /api/v1/accounts', () => {
  it('creates a machine account and returns its key once, with a warning', async () => {
    const res = await t.request('POST', '/api/v1/accounts', { body: { label: 'my-coffee-bot', lightning_address: 'You@GetAlby.com' } });
    expect(res.status).toBe(201);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.body).toMatchObject({
      username: 'my-coffee-bot',
      display_name: 'my-coffee-bot',
      lightning_address: 'you@getalby.com',
      role: 'machine',
      key_scope: 'full',
    });
    expect(res.body.api_key).toMatch(/^lib_[0-9a-f]{64}$/);
    expect(res.body.api_key_prefix).toBe(res.body.api_key.slice(0, 12));
    expect(res.body.warning).toMatch(/shown once/);
    expect(res.body.user_id).toMatch(/^[a-z0-9]{15}$/);
    expect(new Date(res.body.created).toISOString()).toBe(res.body.created);
  });

  it('stores only a hash of the key', async () => {
    const { key } = await t.signup('hash-check');
    let all = '';
    for (const f of await readdir(t.dataDir)) all += await readFile(join(t.dataDir, f), 'utf8');
    expect(all).not.toContain(key);
    expect(all).not.toContain(key.slice(4));
  });

  it('gives a second account with the same label a distinct username', async () => {
    const a = await t.signup('twin');
    const b = await t.signup('twin');
    expect(a.body.username).toBe('twin');
    expect(b.body.username).toMatch(/^twin-[a-z0-9]{6}$/);
  });

  it.each([
    [{}, /label/],
    [{ label: '' }, /label/],
    [{ label: 42 }, /label/],
    [{ label: 'x'.repeat(65) }, /label/],
    [{ label: 'ok', lightning_address: 'not-an-address' }, /lightning_address/],
    [{ label: 'ok', lightning_address: 'a@b' }, /lightning_address/],
    [{ label: 'ok', lightning_address: 7 }, /lightning_address/],
    [{ label: 'ok', admin: true }, /admin/],
  ])('refuses %j with 400 invalid_body', async (body, field) => {
    const res = await t.request('POST', '/api/v1/accounts', { body });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('invalid_body');
    expect(res.body.message).toMatch(field);
  });

  it('refuses broken JSON with 400 invalid_json', async () => {
    const res = await t.request('POST', '/api/v1/accounts', { raw: '{"label":', headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: 'invalid_json', message: expect.any(String) });
  });
});

describe('authentication', () => {
  it('answers 401 missing_token without a header', async () => {
    const res = await t.request('GET', '/api/v1/accounts/me');
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('missing_token');
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
  });

  it.each(['Bearer lib_123', 'Bearer', 'Basic dXNlcjpwYXNz', 'Bearer lib_' + 'g'.repeat(64), 'Bearer a.b.c', 'Bearer not-a-key'])(
    'answers 401 invalid_token for %j',
    async (header) => {
      const res = await t.request('GET', '/api/v1/accounts/me', { headers: { authorization: header } });
      expect(res.status).toBe(401);
      expect(res.body.error).toBe('invalid_token');
    },
  );

  it('answers 401 invalid_key for a well-formed unknown key', async () => {
    const res = await t.request('GET', '/api/v1/accounts/me', { token: 'lib_' + '0'.repeat(64) });
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('invalid_key');
  });
});

describe('GET /api/v1/accounts/me', () => {
  it('returns the documented fields', async () => {
    const { key, userId } = await t.signup('me-bot', { lightning_address: 'me@example.com' });
    const res = await t.request('GET', '/api/v1/accounts/me', { token: key });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      user_id: userId,
      username: 'me-bot',
      display_name: 'me-bot',
      lightning_address: 'me@example.com',
      api_key_prefix: key.slice(0, 12),
      key_scope: 'full',
      role: 'machine',
      created: expect.any(String),
    });
  });
});

describe('POST /api/v1/accounts/me/rotate-key', () => {
  it('issues a new key and kills the old one at once', async () => {
    const { key, userId } = await t.signup('rotor');
    const res = await t.request('POST', '/api/v1/accounts/me/rotate-key', { token: key });
    expect(res.status).toBe(200);
    expect(res.body.api_key).toMatch(/^lib_[0-9a-f]{64}$/);
    expect(res.body.api_key).not.toBe(key);
    expect(res.body.warning).toMatch(/no longer works/);
    const old = await t.request('GET', '/api/v1/accounts/me', { token: key });
    expect(old.status).toBe(401);
    expect(old.body.error).toBe('invalid_key');
    const fresh = await t.request('GET', '/api/v1/accounts/me', { token: res.body.api_key });
    expect(fresh.status).toBe(200);
    expect(fresh.body.user_id).toBe(userId);
    expect(fresh.body.api_key_prefix).toBe(res.body.api_key.slice(0, 12));
  });
});

describe('POST /api/v1/auth/exchange', () => {
  it('swaps a key for a 24 h session token accepted bare and as Bearer', async () => {
    const { key, userId } = await t.signup('gui-bot');
    const res = await t.request('POST', '/api/v1/auth/exchange', { body: { api_key: key } });
    expect(res.status).toBe(200);
    expect(res.body.expires_in).toBe(86400);
    expect(res.body.record).toMatchObject({ user_id: userId, username: 'gui-bot' });
    const token: string = res.body.token;
    const [, payload] = token.split('.');
    const claims = JSON.parse(Buffer.from(payload as string, 'base64url').toString());
    expect(claims.exp - claims.iat).toBe(86400);
    expect(claims.sub).toBe(userId);

    const bare = await t.request('GET', '/api/v1/accounts/me', { headers: { authorization: token } });
    expect(bare.status).toBe(200);
    expect(bare.body.user_id).toBe(userId);
    const bearer = await t.request('GET', '/api/v1/accounts/me', { token });
    expect(bearer.status).toBe(200);
  });

  it('refuses unknown and malformed keys', async () => {
    const unknown = await t.request('POST', '/api/v1/auth/exchange', { body: { api_key: 'lib_' + 'a'.repeat(64) } });
    expect(unknown.status).toBe(401);
    expect(unknown.body.error).toBe('invalid_key');
    const malformed = await t.request('POST', '/api/v1/auth/exchange', { body: { api_key: 'hello' } });
    expect(malformed.status).toBe(401);
    expect(malformed.body.error).toBe('invalid_token');
    const missing = await t.request('POST', '/api/v1/auth/exchange', { body: {} });
    expect(missing.status).toBe(400);
    expect(missing.body.error).toBe('invalid_body');
  });

  it('kills the session when its key is rotated', async () => {
    const { key } = await t.signup('gui-rotor');
    const { body } = await t.request('POST', '/api/v1/auth/exchange', { body: { api_key: key } });
    await t.request('POST', '/api/v1/accounts/me/rotate-key', { token: key });
    const res = await t.request('GET', '/api/v1/accounts/me', { token: body.token });
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('invalid_token');
  });

  it('refuses a token signed with another secret', async () => {
    const { key } = await t.signup('forger');
    const { body } = await t.request('POST', '/api/v1/auth/exchange', { body: { api_key: key } });
    const [h, p, s] = (body.token as string).split('.');
    const forged = `${h}.${p}.${(s as string).slice(0, -4)}AAAA`;
    const res = await t.request('GET', '/api/v1/accounts/me', { token: forged });
    expect(res.status).toBe(401);
    expect(res.body.error).toBe('invalid_token');
  });
});

describe('read-only keys', () => {
  it('can read but not write', async () => {
    const { key } = await t.signup('scoped');
    const created = await t.request('POST', '/api/v1/accounts/me/keys', { token: key, body: { scope: 'read', label: 'dashboard' } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ scope: 'read', label: 'dashboard', revoked_at: null });
    const ro: string = created.body.api_key;

    const asset = await t.request('POST', '/api/v1/assets', { token: key, body: { name: 'Vend', price_sats: 10 } });
    expect((await t.request('GET', '/api/v1/assets', { token: ro })).status).toBe(200);
    expect((await t.request('GET', `/api/v1/assets/${asset.body.asset_id}`, { token: ro })).status).toBe(200);
    expect((await t.request('GET', '/api/public/events', { token: ro })).status).toBe(200);
    const me = await t.request('GET', '/api/v1/accounts/me', { token: ro });
    expect(me.body.key_scope).toBe('read');

    const writes: [string, string, unknown][] = [
      ['POST', '/api/v1/assets', { name: 'x', price_sats: 1 }],
      ['PATCH', `/api/v1/assets/${asset.body.asset_id}`, { price_sats: 2 }],
      ['PUT', `/api/v1/assets/${asset.body.asset_id}`, { name: 'y', price_sats: 2 }],
      ['DELETE', `/api/v1/assets/${asset.body.asset_id}`, undefined],
      ['POST', '/api/public/events', { type: 'custom' }],
      ['POST', '/api/v1/accounts/me/rotate-key', undefined],
      ['POST', '/api/v1/accounts/me/keys', { scope: 'full' }],
      ['PUT', '/api/v1/accounts/me/webhook', { url: 'https://example.com/hook' }],
    ];
    for (const [method, path, body] of writes) {
      const res = await t.request(method, path, { token: ro, body });
      expect(res.status, `${method} ${path}`).toBe(403);
      expect(res.body.error).toBe('insufficient_scope');
    }
    // Nothing changed.
    const after = await t.request('GET', `/api/v1/assets/${asset.body.asset_id}`, { token: key });
    expect(after.body.price_sats).toBe(10);
  });

  it('lists and revokes keys; a session from a read-only key stays read-only', async () => {
    const { key } = await t.signup('keyring');
    const ro = await t.request('POST', '/api/v1/accounts/me/keys', { token: key, body: {} });
    expect(ro.body.scope).toBe('read');
    const session = await t.request('POST', '/api/v1/auth/exchange', { body: { api_key: ro.body.api_key } });
    const write = await t.request('POST', '/api/v1/assets', { token: session.body.token, body: { name: 'x', price_sats: 1 } });
    expect(write.status).toBe(403);

    const list = await t.request('GET', '/api/v1/accounts/me/keys', { token: key });
    expect(list.body.keys.map((k: any) => k.scope).sort()).toEqual(['full', 'read']);
    expect(JSON.stringify(list.body)).not.toContain(ro.body.api_key);

    const revoked = await t.request('DELETE', `/api/v1/accounts/me/keys/${ro.body.key_id}`, { token: key });
    expect(revoked.status).toBe(200);
    expect(revoked.body.revoked_at).not.toBeNull();
    expect((await t.request('GET', '/api/v1/assets', { token: ro.body.api_key })).body.error).toBe('invalid_key');
    expect((await t.request('GET', '/api/v1/assets', { token: session.body.token })).body.error).toBe('invalid_token');
    const again = await t.request('DELETE', `/api/v1/accounts/me/keys/${ro.body.key_id}`, { token: key });
    expect(again.status).toBe(404);
    expect(again.body.error).toBe('key_not_found');

    const self = (await t.request('GET', '/api/v1/accounts/me/keys', { token: key })).body.keys[0];
    const own = await t.request('DELETE', `/api/v1/accounts/me/keys/${self.key_id}`, { token: key });
    expect(own.status).toBe(400);
  });

  it('cannot revoke another account’s key', async () => {
    const a = await t.signup('a');
    const b = await t.signup('b');
    const bKeys = await t.request('GET', '/api/v1/accounts/me/keys', { token: b.key });
    const res = await t.request('DELETE', `/api/v1/accounts/me/keys/${bKeys.body.keys[0].key_id}`, { token: a.key });
    expect(res.status).toBe(404);
    expect((await t.request('GET', '/api/v1/accounts/me', { token: b.key })).status).toBe(200);
  });
});
