/** A bridge for the x402 REST tests, and the steps most tests take: sign up, log in, make a client key. */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { expect } from 'vitest';
import { ADMIN_TOKEN, startBridge, testDatabaseUrl, type ApiResponse, type TestBridge } from '../../helpers/bridge.js';
import { TEST_ENGINE } from '../../helpers/pg.js';

export { ADMIN_TOKEN };

/** Fast password hashes and no per-IP login limit, unless a test says otherwise. */
export function startX402Bridge(overrides: Record<string, unknown> = {}, options: Parameters<typeof startBridge>[1] = {}): Promise<TestBridge> {
  return startBridge({ X402_SCRYPT_N: 1024, X402_LOGINS_PER_MINUTE: 0, ...overrides }, options);
}

export const PASSWORD = 'StrongPassword123!';

export interface Person {
  id: number;
  email: string;
  access: string;
  refresh: string;
}

let counter = 0;
/** A unique email for this test file. */
export const email = (name = 'user'): string => `${name}${++counter}-${process.pid}@example.com`;

export async function signup(b: TestBridge, address = email(), password = PASSWORD): Promise<ApiResponse> {
  return b.request('POST', '/x402/api/v1/signup', { body: { email: address, password } });
}

export async function login(b: TestBridge, address: string, password = PASSWORD): Promise<ApiResponse> {
  return b.request('POST', '/x402/api/v1/login', { body: { email: address, password } });
}

/** Sign up and log in a new person. */
export async function person(b: TestBridge, name = 'user'): Promise<Person> {
  const address = email(name);
  const made = await signup(b, address);
  expect(made.status, made.text).toBe(200);
  const res = await login(b, address);
  expect(res.status, res.text).toBe(200);
  return { id: res.body.data.id, email: address, access: res.body.data.access_token, refresh: res.body.data.refresh_token };
}

/** An admin user (made with the admin token), logged in. */
export async function adminPerson(b: TestBridge): Promise<Person> {
  const address = email('admin');
  const made = await b.request('POST', '/x402/admin/users', { token: ADMIN_TOKEN, body: { email: address, password: PASSWORD, is_admin: true } });
  expect(made.status, made.text).toBe(201);
  const res = await login(b, address);
  expect(res.status, res.text).toBe(200);
  return { id: res.body.data.id, email: address, access: res.body.data.access_token, refresh: res.body.data.refresh_token };
}

export interface Client {
  clientId: string;
  token: string;
}

export async function client(b: TestBridge, owner: Person, body: Record<string, unknown> = {}): Promise<Client> {
  const res = await b.request('POST', '/x402/api/v1/clients', { token: owner.access, body: { title: 'my-resource-server', ...body } });
  expect(res.status, res.text).toBe(200);
  return { clientId: res.body.data.client.clientId, token: res.body.data.client.token };
}

export const clientHeaders = (c: Client): Record<string, string> => ({ 'X-Client-ID': c.clientId, 'X-Client-Token': c.token });

/** The x402 error body: exactly code, message and details, all strings. */
export function expectX402Error(res: ApiResponse, status: number, code: string): void {
  expect(res.status, res.text).toBe(status);
  expect(Object.keys(res.body).sort()).toEqual(['code', 'details', 'message']);
  expect(res.body.code).toBe(code);
  expect(typeof res.body.message).toBe('string');
  expect(typeof res.body.details).toBe('string');
}

/** Everything the store holds as text, on either engine: the journal's files, or the x402 tables' rows. */
export async function storeText(b: TestBridge): Promise<string> {
  await b.request('GET', '/x402/health');
  if (TEST_ENGINE === 'postgres') {
    const db = new pg.Client({ connectionString: await testDatabaseUrl(b.dataDir) });
    await db.connect();
    try {
      const tables = ['x402_users', 'x402_refresh_tokens', 'x402_clients', 'accounts', 'api_keys'];
      const rows = await Promise.all(tables.map(async (t) => (await db.query(`SELECT row_to_json(t)::text AS j FROM ${t} t`)).rows.map((r) => r.j as string)));
      return rows.flat().join('\n');
    } finally {
      await db.end();
    }
  }
  const files = (await readdir(b.dataDir)).filter((f) => f.startsWith('paywire.'));
  return (await Promise.all(files.map((f) => readFile(join(b.dataDir, f), 'utf8')))).join('\n');
}
