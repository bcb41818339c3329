/**
 * The API's own documents against the API itself: /openapi.json is valid OpenAPI 3.1 and lists
 * exactly the routes the router has; every documented example is answered as documented by a live
 * bridge; the PDF holds every path and error code; the published webhook check verifies real deliveries.
 */
import { execFile } from 'node:child_process';
import { createPublicKey, verify } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pkg from '../../package.json' with { type: 'json' };
import { machinesRouter } from '../../bridge/machines/family.js';
import { ENDPOINTS, errorsOf, type Endpoint } from '../../bridge/machines/docs/endpoints.js';
import { ERRORS } from '../../bridge/machines/docs/errors.js';
import { guideSections } from '../../bridge/machines/docs/guide.js';
import { EXAMPLE, RESPONSES } from '../../bridge/machines/docs/records.js';
import { docsRoutes } from '../../bridge/machines/routes/docs.js';
import type { MachinesDeps } from '../../bridge/machines/routes/shared.js';
import { startBridge, type TestBridge } from '../helpers/bridge.js';

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
}

let t: TestBridge;
let spec: any;
let receiver: Server;
let receiverUrl: string;
const received: Received[] = [];

beforeAll(async () => {
  receiver = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      received.push({ headers: req.headers, body });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  t = await startBridge();
  const res = await t.request('GET', '/openapi.json');
  expect(res.status).toBe(200);
  spec = res.body;
});

afterAll(async () => {
  await t.close();
  await new Promise((resolve) => receiver.close(resolve));
});

const bearer = ENDPOINTS.filter((e) => e.auth === 'bearer');

/** A fresh account with an asset, an event, a read-only key and a webhook pointing at `receiver`. */
async function fixture() {
  const { key, userId } = await t.signup('docs-fixture');
  const asset = await t.request('POST', '/api/v1/assets', { token: key, body: { name: 'Fixture', price_sats: 21 } });
  const event = await t.request('POST', '/api/public/events', { token: key, body: { type: 'custom', asset_id: asset.body.asset_id } });
  const readKey = await t.request('POST', '/api/v1/accounts/me/keys', { token: key, body: { scope: 'read' } });
  const hook = await t.request('PUT', '/api/v1/accounts/me/webhook', { token: key, body: { url: receiverUrl } });
  for (const res of [asset, event, readKey, hook]) expect(res.status, res.text).toBeLessThan(300);
  return { key, userId, assetId: asset.body.asset_id as string, eventId: event.body.event_id as string, readKey: readKey.body.api_key as string, readKeyId: readKey.body.key_id as string };
}

type Fixture = Awaited<ReturnType<typeof fixture>>;

/** The endpoint's documented example request, with the placeholder ids swapped for live ones. */
function liveRequest(e: Endpoint, f: Fixture, ids: Partial<Record<string, string>> = {}) {
  const live = (s: string) => s.replaceAll(EXAMPLE.apiKey, f.key).replaceAll(EXAMPLE.assetId, f.assetId);
  const values: Record<string, string> = {
    key_id: ids['key_id'] ?? f.readKeyId,
    id: ids['id'] ?? (e.path.startsWith('/api/v1/assets/') ? f.assetId : f.eventId),
  };
  let path = e.path.replace(/\{(\w+)\}/g, (_, name: string) => values[name] ?? `missing-${name}`);
  if (e.query) path += `?${new URLSearchParams(e.query.example as Record<string, string>).toString()}`;
  const body = e.body ? (JSON.parse(live(JSON.stringify(e.body.example))) as unknown) : undefined;
  return { method: e.method.toUpperCase(), path, body };
}

function pdfText(pdf: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile('pdftotext', ['-enc', 'UTF-8', '-', '-'], { maxBuffer: 32 * 1024 * 1024 }, (err, stdout) => (err ? reject(err) : resolve(stdout)));
    child.stdin?.end(pdf);
  });
}

describe('GET /openapi.json', () => {
  it('is a valid OpenAPI 3.1 document', async () => {
    const validator = new Validator();
    const result = await validator.validate(structuredClone(spec));
    expect(result.errors).toBeUndefined();
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
    // The validator is real: a dangling $ref and a response without a description are refused.
    const broken = structuredClone(spec);
    broken.paths['/healthz'].get.responses['200'].content['application/json'].schema = { $ref: '#/components/schemas/Nope' };
    expect((await new Validator().validate(broken)).valid).toBe(false);
    const incomplete = structuredClone(spec);
    delete incomplete.paths['/api/v1/assets'].get.responses['200'].description;
    expect((await new Validator().validate(incomplete)).valid).toBe(false);
  });

  it('carries the package version, the bearer scheme, the records and a relative server', () => {
    expect(spec.openapi).toBe('3.1.0');
    expect(spec.info.version).toBe(pkg.version);
    expect(spec.servers).toEqual([{ url: '/', description: expect.any(String) }]);
    expect(spec.components.securitySchemes.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' });
    for (const name of ['Account', 'Asset', 'Event', 'ApiKey', 'Webhook', 'Delivery', 'Error']) expect(spec.components.schemas).toHaveProperty(name);
    expect(spec.components.schemas.Error).toMatchObject({ type: 'object', required: ['error', 'message'], additionalProperties: false });
    expect(Object.keys(spec.components.schemas.Error.properties)).toEqual(['error', 'message']);
  });

  it('lists exactly the routes the machines router registers, with the same methods', () => {
    const router = machinesRouter({} as MachinesDeps, [docsRoutes(t.bridge.config)]);
    const registered = router.stack.flatMap((layer) =>
      layer.methods.filter((m) => m !== 'HEAD').map((m) => `${m} ${String(layer.path).replace(/:(\w+)/g, '{$1}')}`),
    );
    const documented = Object.entries(spec.paths as Record<string, Record<string, unknown>>).flatMap(([path, ops]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`),
    );
    expect(registered.length).toBeGreaterThan(20);
    expect(new Set(registered).size).toBe(registered.length);
    expect([...documented].sort()).toEqual([...registered].sort());
  });

  it('declares every path parameter, security and the error codes of each operation', () => {
    for (const e of ENDPOINTS) {
      const op = spec.paths[e.path][e.method];
      const names = [...e.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
      expect(op.parameters?.filter((p: any) => p.in === 'path').map((p: any) => p.name) ?? [], e.operationId).toEqual(names);
      expect(op.security, e.operationId).toEqual(e.auth === 'bearer' ? [{ bearerAuth: [] }] : []);
      const described = Object.entries(op.responses as Record<string, { description: string }>)
        .filter(([status]) => Number(status) >= 400)
        .map(([, r]) => r.description)
        .join(' ');
      for (const code of errorsOf(e)) expect(described, `${e.operationId} ${code}`).toContain(`\`${code}\``);
    }
  });

  it('names the public URL and the machines prefix in servers when they are configured', async () => {
    const other = await startBridge({ PUBLIC_URL: 'https://pay.example.com', MACHINES_PREFIX: '/m' });
    try {
      const res = await other.request('GET', '/m/openapi.json');
      expect(res.status).toBe(200);
      expect(res.body.servers[0].url).toBe('https://pay.example.com/m');
      expect(res.body.info.description).toContain('https://pay.example.com/m/api/v1/accounts');
    } finally {
      await other.close();
    }
  });
});

describe('documented examples against the live API', () => {
  it('documents a request body for every route that reads one', () => {
    const withBody = ENDPOINTS.filter((e) => e.body).map((e) => e.operationId);
    expect(withBody.sort()).toEqual(['createAccount', 'createAsset', 'createEvent', 'createKey', 'exchangeKey', 'putWebhook', 'replaceAsset', 'updateAsset'].sort());
  });

  it.each(ENDPOINTS.map((e) => [`${e.method.toUpperCase()} ${e.path}`, e] as const))('%s answers its example as documented', async (_, e) => {
    if (e.body) expect(e.body.schema.safeParse(e.body.example).success, 'example fits the zod schema').toBe(true);
    if (e.response.schema) expect(RESPONSES[e.response.schema].safeParse(e.response.example).error).toBeUndefined();
    const f = await fixture();
    const { method, path, body } = liveRequest(e, f);
    const res = await t.request(method, path, { body, ...(e.auth === 'bearer' ? { token: f.key } : {}) });
    expect(res.status, res.text.slice(0, 300)).toBe(e.response.status);
    expect(res.headers.get('content-type')).toContain(e.response.contentType);
    if (e.response.schema) {
      const parsed = RESPONSES[e.response.schema].safeParse(res.body);
      expect(parsed.error, JSON.stringify(res.body).slice(0, 300)).toBeUndefined();
    }
  });

  it.each(bearer.map((e) => [`${e.method.toUpperCase()} ${e.path}`, e] as const))('%s: scope and auth are as documented', async (_, e) => {
    const f = await fixture();
    const { method, path, body } = liveRequest(e, f);
    const anonymous = await t.request(method, path, { body });
    expect(anonymous.status).toBe(401);
    expect(anonymous.body.error).toBe('missing_token');
    const readOnly = await t.request(method, path, { body, token: f.readKey });
    if (e.writes) {
      expect(readOnly.status).toBe(403);
      expect(readOnly.body.error).toBe('insufficient_scope');
      expect(errorsOf(e)).toContain('insufficient_scope');
    } else {
      expect(readOnly.status, readOnly.text.slice(0, 300)).toBe(e.response.status);
      expect(errorsOf(e)).not.toContain('insufficient_scope');
    }
  });

  it.each(ENDPOINTS.filter((e) => e.params).map((e) => [`${e.method.toUpperCase()} ${e.path}`, e] as const))(
    '%s: an unknown id answers a documented code',
    async (_, e) => {
      const f = await fixture();
      const ids = Object.fromEntries(Object.keys(e.params ?? {}).map((name) => [name, 'zzzzzzzzzzzzzzz']));
      const { method, path, body } = liveRequest(e, f, ids);
      const res = await t.request(method, path, { body, token: f.key });
      expect(res.status).toBe(404);
      expect(errorsOf(e)).toContain(res.body.error);
      expect(RESPONSES.Error.safeParse(res.body).error).toBeUndefined();
    },
  );

  it('answers a repeated external_id with the documented duplicate_event body', async () => {
    const f = await fixture();
    const e = ENDPOINTS.find((x) => x.operationId === 'createEvent') as Endpoint;
    const { path, body } = liveRequest(e, f);
    const first = await t.request('POST', path, { body, token: f.key });
    const again = await t.request('POST', path, { body, token: f.key });
    expect(again.status).toBe(409);
    expect(RESPONSES.DuplicateEventError.parse(again.body).event_id).toBe(first.body.event_id);
  });
});

describe('error codes', () => {
  it('documents every code the family throws, with its status', async () => {
    const files: string[] = ['bridge/errors.ts'];
    for (const dir of ['bridge/machines', 'bridge/machines/routes', 'bridge/http']) {
      for (const name of await readdir(dir)) if (name.endsWith('.ts')) files.push(join(dir, name));
    }
    const thrown = new Set<string>();
    for (const file of files) {
      for (const m of (await readFile(file, 'utf8')).matchAll(/new AppError\(\s*(\d{3}),\s*'([a-z_]+)'/g)) thrown.add(`${m[1]} ${m[2]}`);
    }
    expect(thrown.size).toBeGreaterThan(10);
    const documented = new Set(ERRORS.flatMap((x) => x.statuses.map((s) => `${s} ${x.code}`)));
    expect([...thrown].filter((x) => !documented.has(x))).toEqual([]);
    // Only the spec's codes for a remote backend may be documented before anything throws them.
    const codes = new Set([...thrown].map((x) => x.split(' ')[1]));
    const unthrown = ERRORS.map((x) => x.code as string).filter((c) => !codes.has(c));
    expect(unthrown.filter((c) => c !== 'lookup_failed' && c !== 'backend_unavailable')).toEqual([]);
  });
});

describe('GET /api/public/docs.pdf', () => {
  let pdf: Buffer;
  let res: Response;
  beforeAll(async () => {
    res = await fetch(`${t.url}/api/public/docs.pdf`);
    pdf = Buffer.from(await res.arrayBuffer());
  });

  it('is a PDF, served inline and cacheable', () => {
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/pdf');
    expect(res.headers.get('content-disposition')).toBe('inline; filename="paywire-api.pdf"');
    expect(res.headers.get('cache-control')).toBe('public, max-age=3600');
    expect(pdf.subarray(0, 5).toString('latin1')).toBe('%PDF-');
    expect(pdf.subarray(-6).toString('latin1')).toMatch(/%%EOF\s*$/);
  });

  it('holds every section, every documented path and every error code', async () => {
    const text = await pdfText(pdf);
    // pdftotext may split a long token over lines; compare without whitespace.
    const flat = text.replace(/\s+/g, '');
    const settings = { baseUrl: 'http://localhost:3000', rateLimitPerMinute: 0, signupsPerHour: 0 };
    for (const s of guideSections(settings)) expect(text).toContain(s.title);
    for (const e of ENDPOINTS) expect(flat, e.path).toContain(e.path);
    for (const x of ERRORS) expect(flat, x.code).toContain(x.code);
    for (const needle of ['X-RateLimit-Remaining', 'Retry-After', 'webhook-signature', 'v1a,', '{webhook-id}.{webhook-timestamp}.{rawbody}', 'curl-XPOST']) {
      expect(flat).toContain(needle);
    }
    expect(text).toContain(pkg.version);
  });

  it('is rendered once and served from the cache', async () => {
    const again = Buffer.from(await (await fetch(`${t.url}/api/public/docs.pdf`)).arrayBuffer());
    expect(again.equals(pdf)).toBe(true);
  });
});

describe('public and CORS-enabled documents', () => {
  it.each(['/openapi.json', '/api/public/docs.pdf'])('%s needs no key and allows any origin', async (path) => {
    const res = await fetch(`${t.url}${path}`, { headers: { Origin: 'https://agent.example' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    await res.arrayBuffer();
    const preflight = await fetch(`${t.url}${path}`, {
      method: 'OPTIONS',
      headers: { Origin: 'https://agent.example', 'Access-Control-Request-Method': 'GET' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('*');
  });
});

describe('webhook signature verification as documented', () => {
  it('verifies a real delivery with the published snippet and key', async () => {
    const f = await fixture();
    received.length = 0;
    const posted = await t.request('POST', '/api/public/events', { token: f.key, body: { type: 'paid', asset_id: f.assetId, data: { sats: 21 } } });
    expect(posted.status).toBe(201);
    const deadline = Date.now() + 10_000;
    while (!received.some((r) => r.body.includes(posted.body.event_id)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const delivery = received.find((r) => r.body.includes(posted.body.event_id));
    expect(delivery).toBeDefined();
    const { headers, body } = delivery as Received;

    const signing = RESPONSES.SigningKey.parse((await t.request('GET', '/api/public/webhooks/public-key')).body);
    for (const name of signing.headers) expect(headers).toHaveProperty(name);
    const payload = RESPONSES.WebhookPayload.parse(JSON.parse(body));
    expect(payload).toMatchObject({ type: 'event.paid', data: { event_id: posted.body.event_id, user_id: f.userId } });

    // Run the snippet the PDF prints, minus its import line.
    const section = guideSections({ baseUrl: '', rateLimitPerMinute: 0, signupsPerHour: 0 }).find((s) => s.id === 'webhooks');
    const snippet = section?.blocks.find((b) => b.kind === 'code' && b.text.includes('verifyWebhook'));
    const source = (snippet as { text: string }).text.replace(/^import .*$/m, '');
    const verifyWebhook = new Function('createPublicKey', 'verify', 'publicKeyPem', `${source}\nreturn verifyWebhook;`)(
      createPublicKey,
      verify,
      signing.public_key_pem,
    ) as (headers: IncomingHttpHeaders, rawBody: string) => boolean;
    expect(verifyWebhook(headers, body)).toBe(true);
    expect(verifyWebhook(headers, body.replace('"paid"', '"paid" '))).toBe(false);
    expect(verifyWebhook({ ...headers, 'webhook-id': 'msg_forged' }, body)).toBe(false);
  });
});
