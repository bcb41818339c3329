/**
 * `npm run webhook-receiver -- --port 4000 --bridge http://localhost:3000`: a local endpoint for the
 * bridge's webhooks that checks each delivery's signature and prints it. Standard Webhooks,
 * asymmetric scheme `v1a`: `webhook-signature` holds `v1a,<base64 Ed25519 signature>` (space
 * separated when there are several) of `{webhook-id}.{webhook-timestamp}.{raw body}`, checked with
 * the bridge's published key (`GET <bridge>/api/public/webhooks/public-key`, or `--key whpk_…`), and
 * a timestamp more than `--tolerance` seconds (300) away is refused. A verified delivery is answered
 * 204 and printed (`verified <type> <webhook-id>`, then the body); anything else is answered 401 and
 * printed as `REFUSED <reason>`, so the bridge tries it again later.
 */
import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';

const USAGE = `usage: npm run webhook-receiver -- [--port 4000] [--host 127.0.0.1] [--bridge http://localhost:3000] [--key whpk_…] [--tolerance 300]
  --bridge     the bridge whose key signs the deliveries (its machine-payments base URL)
  --key        the public key itself (whpk_…), instead of fetching it from --bridge`;

/** DER SubjectPublicKeyInfo prefix of an Ed25519 public key (RFC 8410). */
const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const MAX_BODY_BYTES = 1 << 20;

function fail(message: string, status = 2): never {
  process.stderr.write(`${message}\n`);
  process.exit(status);
}

/** The key from `whpk_<base64 of the 32-byte Ed25519 public key>`. */
function keyFromWhpk(text: string): KeyObject {
  const raw = Buffer.from(text.replace(/^whpk_/, ''), 'base64');
  if (!text.startsWith('whpk_') || raw.length !== 32) fail(`--key must be whpk_ and the base64 of a 32-byte Ed25519 public key`);
  return createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, raw]), format: 'der', type: 'spki' });
}

async function keyFromBridge(bridge: string): Promise<{ key: KeyObject; id: string }> {
  const url = `${bridge.replace(/\/+$/, '')}/api/public/webhooks/public-key`;
  let body: { public_key_pem?: unknown; key_id?: unknown };
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    body = (await res.json()) as typeof body;
  } catch (err) {
    return fail(`could not fetch the webhook key from ${url}: ${(err as Error).message}. Is the bridge running? (--bridge, or --key whpk_…)`, 1);
  }
  if (typeof body.public_key_pem !== 'string') return fail(`${url} gave no public_key_pem`, 1);
  return { key: createPublicKey(body.public_key_pem), id: String(body.key_id) };
}

/** Why a delivery is refused, or undefined when it is genuine and fresh. */
function refusal(headers: IncomingMessage['headers'], body: Buffer, key: KeyObject, toleranceSeconds: number, now = Date.now()): string | undefined {
  const id = headers['webhook-id'];
  const timestamp = headers['webhook-timestamp'];
  const signatures = headers['webhook-signature'];
  if (typeof id !== 'string' || typeof timestamp !== 'string' || typeof signatures !== 'string')
    return 'missing webhook-id, webhook-timestamp or webhook-signature';
  if (!/^\d{1,12}$/.test(timestamp)) return 'webhook-timestamp is not unix seconds';
  if (Math.abs(now / 1000 - Number(timestamp)) > toleranceSeconds) return `webhook-timestamp is more than ${toleranceSeconds} s away from now`;
  const content = Buffer.concat([Buffer.from(`${id}.${timestamp}.`), body]);
  const ok = signatures
    .split(' ')
    .filter((s) => s.startsWith('v1a,'))
    .some((s) => verify(null, content, key, Buffer.from(s.slice(4), 'base64')));
  return ok ? undefined : 'no v1a signature verifies with the bridge\u2019s key';
}

function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        resolve(undefined);
        req.destroy();
      } else chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function answer(res: ServerResponse, status: number, text?: string): void {
  res.writeHead(status, text === undefined ? {} : { 'content-type': 'text/plain; charset=utf-8' }).end(text);
}

async function main(): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        port: { type: 'string', default: '4000' },
        host: { type: 'string', default: '127.0.0.1' },
        bridge: { type: 'string', default: 'http://localhost:3000' },
        key: { type: 'string' },
        tolerance: { type: 'string', default: '300' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    return fail(`${(err as Error).message}\n${USAGE}`);
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const port = Number(values.port);
  const tolerance = Number(values.tolerance);
  if (!/^\d{1,5}$/.test(values.port) || port > 65_535) fail(`--port must be a port number (0 picks a free one)\n${USAGE}`);
  if (!/^\d{1,6}$/.test(values.tolerance)) fail(`--tolerance must be whole seconds\n${USAGE}`);
  const { key, id: keyId } = values.key ? { key: keyFromWhpk(values.key), id: 'given with --key' } : await keyFromBridge(values.bridge);

  const server = createServer((req, res) => {
    if (req.method !== 'POST') return answer(res, 405, 'webhooks are POSTed\n');
    readBody(req).then(
      (body) => {
        if (body === undefined) {
          process.stdout.write(`REFUSED body over ${MAX_BODY_BYTES} bytes\n`);
          return answer(res, 413, 'too large\n');
        }
        const id = String(req.headers['webhook-id'] ?? '-');
        const why = refusal(req.headers, body, key, tolerance);
        if (why) {
          process.stdout.write(`REFUSED ${id}: ${why}\n`);
          return answer(res, 401, `${why}\n`);
        }
        let printed = body.toString('utf8');
        let type = '-';
        try {
          const parsed = JSON.parse(printed) as { type?: unknown };
          type = String(parsed.type);
          printed = JSON.stringify(parsed, null, 2);
        } catch {
          // A verified body that is not JSON is printed as it came.
        }
        process.stdout.write(`verified ${type} ${id}\n${printed}\n`);
        answer(res, 204);
      },
      () => answer(res, 400),
    );
  });
  server.on('error', (err) => fail(`cannot listen on ${values.host}:${port}: ${err.message}`, 1));
  server.listen(port, values.host, () => {
    const bound = (server.address() as AddressInfo).port;
    const host = values.host.includes(':') ? `[${values.host}]` : values.host;
    process.stdout.write(`paywire webhook receiver listening on http://${host}:${bound}/ (key ${keyId}${values.key ? '' : ` from ${values.bridge}`})\n`);
  });
  const stop = () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

void main();
