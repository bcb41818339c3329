/**
 * The lean JSON-RPC client of the verify path (bridge/x402/evm/json-rpc.ts) against small local HTTP servers: the
 * result, a JSON-RPC error with its code, a status other than 200, a body that is not JSON or answers another id,
 * an answer past the byte cap, a server that never answers (the deadline holds), basic auth from the URL.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { JsonRpcError, JsonRpcHttp } from '../../../bridge/x402/evm/json-rpc.js';

const servers: Server[] = [];
const clients: JsonRpcHttp[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

async function serve(handler: (body: { id: number; method: string; params: unknown[] }, req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => handler(JSON.parse(Buffer.concat(chunks).toString('utf8')), req, res));
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/rpc`;
}

const client = (url: string, options?: ConstructorParameters<typeof JsonRpcHttp>[1]): JsonRpcHttp => {
  const c = new JsonRpcHttp(url, options);
  clients.push(c);
  return c;
};

const json = (res: ServerResponse, body: unknown, status = 200) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(typeof body === 'string' ? body : JSON.stringify(body));
};

describe('JsonRpcHttp', () => {
  it('posts a JSON-RPC 2.0 request and resolves with its result, on kept-alive sockets', async () => {
    const seen: { method: string; params: unknown[]; path: string | undefined }[] = [];
    const sockets = new Set<unknown>();
    const url = await serve((body, req, res) => {
      seen.push({ method: body.method, params: body.params, path: req.url });
      sockets.add(req.socket);
      json(res, { jsonrpc: '2.0', id: body.id, result: `0x${body.method.length.toString(16)}` });
    });
    const rpc = client(url);
    expect(await rpc.request('eth_call', [{ data: '0x00' }, 'latest'])).toBe('0x8');
    expect(await rpc.request('eth_chainId', [])).toBe('0xb');
    expect(seen).toEqual([
      { method: 'eth_call', params: [{ data: '0x00' }, 'latest'], path: '/rpc' },
      { method: 'eth_chainId', params: [], path: '/rpc' },
    ]);
    expect(sockets.size).toBe(1);
  });

  it('rejects a JSON-RPC error with its code and message', async () => {
    const url = await serve((body, _req, res) =>
      json(res, { jsonrpc: '2.0', id: body.id, error: { code: -32000, message: 'execution reverted', data: '0x' } }),
    );
    const err = await client(url)
      .request('eth_call', [])
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(JsonRpcError);
    expect(err).toMatchObject({ code: -32000, message: 'eth_call: execution reverted' });
  });

  it.each([
    ['a status other than 200', (id: number, res: ServerResponse) => json(res, { jsonrpc: '2.0', id, result: '0x1' }, 503), 'HTTP 503'],
    ['a body that is not JSON', (_id: number, res: ServerResponse) => json(res, '<html>bad gateway</html>'), 'did not answer JSON'],
    [
      'the answer to another request',
      (id: number, res: ServerResponse) => json(res, { jsonrpc: '2.0', id: id + 1, result: '0x1' }),
      'answered another request',
    ],
    ['no result', (id: number, res: ServerResponse) => json(res, { jsonrpc: '2.0', id }), 'answered no result'],
  ])('rejects %s', async (_name, answer, message) => {
    const url = await serve((body, _req, res) => answer(body.id, res));
    await expect(client(url).request('eth_call', [])).rejects.toThrow(message);
  });

  it('stops reading an answer past its byte cap', async () => {
    const url = await serve((body, _req, res) => json(res, { jsonrpc: '2.0', id: body.id, result: `0x${'00'.repeat(50_000)}` }));
    await expect(client(url, { maxBytes: 10_000 }).request('eth_call', [])).rejects.toThrow('larger than 10000 bytes');
  });

  it('gives up at its deadline when the server never answers', async () => {
    const url = await serve(() => undefined);
    const started = performance.now();
    await expect(client(url, { timeoutMs: 300 }).request('eth_call', [])).rejects.toThrow('no answer from the RPC within 300 ms');
    expect(performance.now() - started).toBeLessThan(5_000);
  });

  it('sends the user and password of the URL as basic auth', async () => {
    let auth: string | undefined;
    const url = await serve((body, req, res) => {
      auth = req.headers.authorization;
      json(res, { jsonrpc: '2.0', id: body.id, result: '0x1' });
    });
    await client(url.replace('http://', 'http://alice:s%3Acret@')).request('eth_chainId', []);
    expect(auth).toBe(`Basic ${Buffer.from('alice:s:cret').toString('base64')}`);
  });

  it('refuses a URL that is not http(s)', () => {
    expect(() => new JsonRpcHttp('ws://127.0.0.1:8545')).toThrow('must be http(s)');
  });
});
