/**
 * One HTTP request over a keep-alive agent, for the benchmarks.
 *
 * A socket the agent keeps idle can be closed by the server (Node's `keepAliveTimeout`, 5 s) in the
 * same instant the agent hands it to a new request; that request then fails with ECONNRESET before the
 * server has read it. Node's documentation for `request.reusedSocket` gives the remedy: retry once
 * when the failed request went out on a reused socket. Every request the benchmarks send is safe to
 * send again (the dev settle and event appends are idempotent by payment hash and `external_id`).
 */
import { request as httpRequest, type Agent } from 'node:http';

export interface BenchRequest {
  agent: Agent;
  base: URL;
  method: string;
  path: string;
  headers?: Record<string, string | number>;
  body?: string;
}

export interface BenchReply {
  status: number;
  text: string;
  /** When the request that got this reply went out (the retry's start, if there was one). */
  sentAt: number;
}

export async function send(req: BenchRequest, clock: () => number = () => performance.now()): Promise<BenchReply> {
  try {
    return await once(req, clock);
  } catch (err) {
    if ((err as { retry?: boolean }).retry === true) return once(req, clock);
    throw err;
  }
}

function once(req: BenchRequest, clock: () => number): Promise<BenchReply> {
  const headers: Record<string, string | number> = { ...req.headers, 'content-length': req.body === undefined ? 0 : Buffer.byteLength(req.body) };
  if (req.body !== undefined && headers['content-type'] === undefined) headers['content-type'] = 'application/json';
  return new Promise<BenchReply>((resolve, reject) => {
    const sentAt = clock();
    const out = httpRequest({ agent: req.agent, host: req.base.hostname, port: req.base.port, method: req.method, path: req.path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8'), sentAt }));
    });
    out.on('error', (err: NodeJS.ErrnoException) => {
      if (out.reusedSocket && err.code === 'ECONNRESET') Object.assign(err, { retry: true });
      reject(err);
    });
    out.end(req.body);
  });
}
