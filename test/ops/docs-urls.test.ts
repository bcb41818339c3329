/**
 * The documents agree with the server that serves them: the PDF and OpenAPI name the same public URL
 * as the LNURLs (a bridge on a port picked at start, not `localhost:3000`); OpenAPI lists the public
 * LNURL, Lightning-address and QR paths and the families' health probes, at their mount prefixes,
 * and each answers as documented; the PDF has bookmarks and its contents give each section's page.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { guideSections } from '../../bridge/docs/guide.js';
import { startBridge, type TestBridge } from '../helpers/bridge.js';

function pdftool(tool: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(tool, args, { maxBuffer: 32 * 1024 * 1024, encoding: 'utf8' }, (err, stdout) => (err ? reject(err) : resolve(stdout)));
  });
}

let t: TestBridge;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'paywire-docs-'));
  t = await startBridge();
});
afterAll(async () => {
  await t.close();
  await rm(dir, { recursive: true, force: true });
});

describe('the public URL in the documents', () => {
  it('is where the bridge listens, the same as its LNURLs', async () => {
    const { key } = await t.signup('docs-url');
    const asset = await t.request('POST', '/api/v1/assets', { token: key, body: { name: 'Docs', price_sats: 10 } });
    const link = await t.request('POST', `/api/v1/assets/${asset.body.asset_id}/payment-link`, { token: key });
    expect(link.status).toBe(201);
    const base = t.info.publicUrl;
    expect(base).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(link.body.url.startsWith(`${base}/lnurl/pay/`)).toBe(true);

    const spec = (await t.request('GET', '/openapi.json')).body;
    expect(spec.servers[0].url).toBe(base);
    expect(spec.info.description).toContain(`${base}/api/v1/accounts`);
    expect(JSON.stringify(spec)).not.toContain('localhost:3000');

    const pdf = Buffer.from(await (await fetch(`${t.url}/api/public/docs.pdf`)).arrayBuffer());
    const file = join(dir, 'url.pdf');
    await writeFile(file, pdf);
    const text = await pdftool('pdftotext', ['-enc', 'UTF-8', file, '-']);
    expect(text).toContain(`Base URL: ${base}`);
    expect(text.replace(/\s+/g, '')).toContain(`curl-XPOST"${base}/api/v1/accounts"`);
    expect(text).not.toContain('localhost:3000');
  });
});

describe('OpenAPI lists the other families\u2019 public paths', () => {
  let other: TestBridge;
  let spec: any;
  beforeAll(async () => {
    other = await startBridge({ MACHINES_PREFIX: '/m', LNURL_PREFIX: '/ln', X402_PREFIX: '/facilitator', LICENSE_PREFIX: '/lic' });
    spec = (await other.request('GET', '/m/openapi.json')).body;
  });
  afterAll(() => other.close());

  it('at their mount prefixes, each on the server\u2019s own URL, and each answers as documented', async () => {
    const base = other.info.publicUrl;
    expect(spec.servers[0].url).toBe(`${base}/m`);
    const signup = await other.request('POST', '/m/api/v1/accounts', { body: { label: 'docs-public' } });
    const key = signup.body.api_key as string;
    const asset = await other.request('POST', '/m/api/v1/assets', { token: key, body: { name: 'Public paths', price_sats: 10 } });
    const link = (await other.request('POST', `/m/api/v1/assets/${asset.body.asset_id}/payment-link`, { token: key })).body;
    const linkId = String(link.url).split('/').pop() as string;
    const name = String(link.lightning_address).split('@')[0] as string;
    const invoice = (await (await fetch(`${link.url}/callback?amount=10000`)).json()) as { verify: string };
    const values: Record<string, string> = { link_id: linkId, name, payment_hash: String(invoice.verify).split('/').pop() as string };

    const expected = [
      'GET /ln/pay/{link_id}',
      'GET /ln/pay/{link_id}/callback',
      'GET /ln/address/{name}/callback',
      'GET /ln/verify/{payment_hash}',
      'GET /ln/pay/{link_id}/qr.png',
      'GET /ln/pay/{link_id}/qr.svg',
      'GET /.well-known/lnurlp/{name}',
      'GET /facilitator/health',
      'GET /lic/healthz',
    ];
    const publicOps = Object.entries(spec.paths as Record<string, Record<string, any>>).flatMap(([path, item]) =>
      Object.entries(item)
        .filter(([method, op]) => method !== 'servers' && op['x-paywire-family'] !== undefined)
        .map(([method, op]) => ({ key: `${method.toUpperCase()} ${path}`, path, item, op })),
    );
    expect(publicOps.map((o) => o.key).sort()).toEqual([...expected].sort());

    for (const { key: what, path, item, op } of publicOps) {
      const server = item.servers[0].url as string;
      expect(server, what).toBe(path.startsWith('/.well-known/') ? new URL(base).origin : base);
      const query = (op.parameters ?? []).filter((p: any) => p.in === 'query' && p.required).map((p: any) => `${p.name}=${encodeURIComponent(p.example)}`);
      const url = `${server}${path.replace(/\{(\w+)\}/g, (_: string, n: string) => values[n] ?? `missing-${n}`)}${query.length ? `?${query.join('&')}` : ''}`;
      const res = await fetch(url.replace('amount=1500000', 'amount=10000'));
      expect(res.status, `${what}: ${url}`).toBe(200);
      const documented = Object.keys(op.responses['200'].content)[0] as string;
      expect(res.headers.get('content-type'), what).toContain(documented);
      await res.arrayBuffer();
    }
  });
});

describe('the PDF\u2019s bookmarks and contents', () => {
  let file: string;
  beforeAll(async () => {
    file = join(dir, 'outline.pdf');
    await writeFile(file, Buffer.from(await (await fetch(`${t.url}/api/public/docs.pdf`)).arrayBuffer()));
  });

  it('has a bookmark for every section, with the tags and their endpoints beneath the endpoint reference', async () => {
    const xml = await pdftool('pdftohtml', ['-xml', '-stdout', '-i', '-q', file]);
    const outline = xml.slice(xml.indexOf('<outline>'), xml.lastIndexOf('</outline>'));
    const items = [...outline.matchAll(/<item page="(\d+)">([^<]*)<\/item>/g)].map((m) => ({ page: Number(m[1]), title: m[2]?.replace(/&amp;/g, '&') }));
    const sections = guideSections({ baseUrl: t.info.publicUrl, rateLimitPerMinute: 0, signupsPerHour: 0 });
    for (const s of sections)
      expect(
        items.map((i) => i.title),
        s.title,
      ).toContain(s.title);
    expect(items.map((i) => i.title)).toContain('Accounts');
    expect(items.map((i) => i.title)).toContain('POST /api/v1/accounts/me/rotate-key');
    expect(outline).toMatch(
      /<item page="\d+">Endpoints<\/item>\s*<outline>\s*<item page="\d+">Accounts<\/item>\s*<outline>\s*<item page="\d+">POST \/api\/v1\/accounts<\/item>/,
    );
  });

  it('gives each section\u2019s page in the contents, the page its heading is on', async () => {
    const text = await pdftool('pdftotext', ['-enc', 'UTF-8', '-layout', file, '-']);
    const pages = text.split('\f');
    const contents = pages[0] as string;
    const sections = guideSections({ baseUrl: t.info.publicUrl, rateLimitPerMinute: 0, signupsPerHour: 0 });
    for (const [i, s] of sections.entries()) {
      const line = contents.split('\n').find((l) => l.includes(`${i + 1}. ${s.title}`));
      expect(line, s.title).toBeDefined();
      const page = Number(/(\d+)\s*$/.exec(line as string)?.[1]);
      expect(page, s.title).toBeGreaterThan(1);
      // The footer of that page says which it is, and the heading is on it.
      expect(pages[page - 1], s.title).toContain(`page ${page} of ${pages.filter((p) => p.trim() !== '').length}`);
      expect(
        (pages[page - 1] as string).split('\n').some((l) => l.trim() === s.title),
        s.title,
      ).toBe(true);
    }
  });
});
