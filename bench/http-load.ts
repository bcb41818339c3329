/**
 * An HTTP load generator on a worker thread, for the benchmarks whose server runs in the bench's own process: the
 * requests are made and their answers checked on the worker, so the server's event loop spends nothing on the
 * client (as when a real client calls it from another machine). `startLoad()` starts the worker; `run()` sends
 * the given requests `concurrency` at a time over keep-alive sockets and resolves with the requests per second,
 * once every answer has the status and the JSON fields expected (else it rejects with the first that did not).
 */
import { isMainThread, parentPort, Worker } from 'node:worker_threads';
import { Agent } from 'node:http';
import { send } from './http.js';

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

async function runJob(job: LoadJob, agent: Agent): Promise<LoadResult> {
  const base = new URL(job.base);
  let next = 0;
  let failure: string | undefined;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: job.concurrency }, async () => {
      while (next < job.requests.length && failure === undefined) {
        const req = job.requests[next++] as LoadRequest;
        const reply = await send({
          agent,
          base,
          method: req.method,
          path: req.path,
          headers: req.headers ?? {},
          ...(req.body === undefined ? {} : { body: req.body }),
        });
        let body: Record<string, unknown> = {};
        try {
          body = JSON.parse(reply.text) as Record<string, unknown>;
        } catch {
          // Checked below.
        }
        const wrong = Object.entries(job.expect).find(([k, v]) => body[k] !== v);
        if (reply.status !== job.status || wrong) failure ??= `${req.method} ${req.path} answered ${reply.status} ${reply.text.slice(0, 300)}`;
      }
    }),
  );
  return { perSecond: job.requests.length / ((performance.now() - started) / 1000), ...(failure === undefined ? {} : { failure }) };
}

if (!isMainThread && parentPort) {
  const port = parentPort;
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  port.on('message', (job: LoadJob) => {
    void runJob(job, agent).then(
      (result) => port.postMessage(result),
      (err: unknown) => port.postMessage({ perSecond: 0, failure: String(err) }),
    );
  });
}
