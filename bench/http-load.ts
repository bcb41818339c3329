/**
 * An HTTP load generator on a worker thread, for the benchmarks whose server runs in the bench's own process: the
 * requests are made and their answers checked on the worker, so the server's event loop spends nothing on the
 * client (as when a real client calls it from another machine). `startLoad()` starts the worker; `run()` sends
 * the given requests over `concurrency` kept-alive connections, one request at a time on each, and resolves with
 * the requests per second, once every answer has the status and the JSON fields expected (else it rejects with
 * the first that did not). Answers must carry Content-Length (Koa's do).
 */
import { isMainThread, parentPort, Worker } from 'node:worker_threads';
import { connect, type Socket } from 'node:net';

export interface LoadRequest {
  method: string;
  path: string;
  headers?: Record<string, string>;
  /** JSON text. */
  body?: string;
}

export interface LoadJob {
  base: string;
  requests: LoadRequest[];
  concurrency: number;
  status: number;
  /** Top-level JSON fields every answer must have, with these values. */
  expect: Record<string, unknown>;
}

interface LoadResult {
  perSecond: number;
  failure?: string;
}

export interface Load {
  run(job: LoadJob): Promise<number>;
  stop(): Promise<void>;
}

export function startLoad(): Load {
  // The worker loads this file again, TypeScript and all, through tsx's loader (a worker does not inherit it).
  const code = `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then(({ register }) => { register(); return import(${JSON.stringify(import.meta.url)}); });`;
  const worker = new Worker(code, { eval: true });
  let pending: { resolve(r: LoadResult): void; reject(err: unknown): void } | undefined;
  worker.on('message', (result: LoadResult) => pending?.resolve(result));
  worker.on('error', (err) => pending?.reject(err));
  return {
    async run(job) {
      const result = await new Promise<LoadResult>((resolve, reject) => {
        pending = { resolve, reject };
        worker.postMessage(job);
      });
      pending = undefined;
      if (result.failure !== undefined) throw new Error(result.failure);
      return result.perSecond;
    },
    async stop() {
      await worker.terminate();
    },
  };
}

/**
 * One kept-alive connection speaking just enough HTTP/1.1 for the benchmarks (as wrk and autocannon do): a request
 * is written as one prepared buffer, the answer read by its Content-Length. node:http's client costs several times
 * as much per request, and on a 2-core machine the client's CPU is taken from the server and the chain.
 */
class Connection {
  private readonly socket: Socket;
  private buffer: Buffer = Buffer.alloc(0);
  private waiting: { resolve(reply: { status: number; body: string }): void; reject(err: Error): void } | undefined;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
      this.parse();
    });
    const fail = (err: Error) => {
      const w = this.waiting;
      this.waiting = undefined;
      w?.reject(err);
    };
    socket.on('error', fail);
    socket.on('close', () => fail(new Error('the server closed the connection')));
  }

  static open(url: URL): Promise<Connection> {
    return new Promise((resolve, reject) => {
      const socket = connect(Number(url.port), url.hostname, () => resolve(new Connection(socket)));
      socket.once('error', reject);
    });
  }

  send(request: Buffer): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
      this.socket.write(request);
    });
  }

  private parse(): void {
    const end = this.buffer.indexOf('\r\n\r\n');
    if (end < 0 || !this.waiting) return;
    const head = this.buffer.subarray(0, end).toString('latin1');
    const status = Number(head.slice(9, 12));
    const length = /\r\ncontent-length: *(\d+)/i.exec(head);
    if (!length) {
      this.waiting.reject(new Error(`an answer without Content-Length: ${head.slice(0, 200)}`));
      return;
    }
    const total = end + 4 + Number(length[1]);
    if (this.buffer.length < total) return;
    const body = this.buffer.subarray(end + 4, total).toString('utf8');
    this.buffer = this.buffer.subarray(total);
    const w = this.waiting;
    this.waiting = undefined;
    w.resolve({ status, body });
  }

  close(): void {
    this.socket.destroy();
  }
}

function prepare(base: URL, req: LoadRequest): Buffer {
  const body = req.body === undefined ? Buffer.alloc(0) : Buffer.from(req.body, 'utf8');
  const headers = {
    ...(req.headers ?? {}),
    host: base.host,
    'content-length': String(body.length),
    ...(req.body === undefined ? {} : { 'content-type': 'application/json' }),
  };
  const head = `${req.method} ${req.path} HTTP/1.1\r\n${Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('')}\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), body]);
}

async function runJob(job: LoadJob): Promise<LoadResult> {
  const base = new URL(job.base);
  const prepared = job.requests.map((r) => prepare(base, r));
  const connections = await Promise.all(Array.from({ length: job.concurrency }, () => Connection.open(base)));
  let next = 0;
  let failure: string | undefined;
  const started = performance.now();
  try {
    await Promise.all(
      connections.map(async (connection) => {
        while (next < prepared.length && failure === undefined) {
          const i = next++;
          const reply = await connection.send(prepared[i] as Buffer);
          let body: Record<string, unknown> = {};
          try {
            body = JSON.parse(reply.body) as Record<string, unknown>;
          } catch {
            // Checked below.
          }
          const wrong = Object.entries(job.expect).find(([k, v]) => body[k] !== v);
          const req = job.requests[i] as LoadRequest;
          if (reply.status !== job.status || wrong) failure ??= `${req.method} ${req.path} answered ${reply.status} ${reply.body.slice(0, 300)}`;
        }
      }),
    );
  } finally {
    for (const c of connections) c.close();
  }
  return { perSecond: job.requests.length / ((performance.now() - started) / 1000), ...(failure === undefined ? {} : { failure }) };
}

if (!isMainThread && parentPort) {
  const port = parentPort;
  port.on('message', (job: LoadJob) => {
    void runJob(job).then(
      (result) => port.postMessage(result),
      (err: unknown) => port.postMessage({ perSecond: 0, failure: String(err) }),
    );
  });
}
