/**
 * A lean JSON-RPC client over node:http(s) with keep-alive sockets, for the hot path of verification (the batched
 * reads of batch-reads.ts). viem's HTTP transport builds a fetch Request, a timeout error and a batch timer for
 * every call: about 1.4 ms of the bridge's CPU per call against the local chain, more than the verifications the
 * call carries, where a request on a kept-alive node:http socket costs about a third of that. Every call has a
 * deadline that holds (a timer, cleared) and a cap on the bytes read; an error answer, a status other than 200 or
 * a body that is not the call's JSON-RPC answer rejects. A call that failed because the server had just closed the
 * kept-alive socket it went out on is sent once more (Node's documented remedy; the calls made here only read).
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

export interface JsonRpcOptions {
  /** Deadline of one call (default 10 000 ms). */
  timeoutMs?: number;
  /** Most bytes read of one answer (default 4 MiB). */
  maxBytes?: number;
}

export class JsonRpcError extends Error {
  readonly code: number | undefined;
  readonly data: unknown;

  constructor(message: string, code?: number, data?: unknown) {
    super(message);
    this.name = 'JsonRpcError';
    this.code = code;
    this.data = data;
  }
}

export class JsonRpcHttp {
  private readonly url: URL;
  private readonly agent: HttpAgent;
  private readonly timeoutMs: number;
  private readonly maxBytes: number;
  private nextId = 1;

  constructor(url: string, options: JsonRpcOptions = {}) {
    this.url = new URL(url);
    if (this.url.protocol !== 'http:' && this.url.protocol !== 'https:') throw new Error(`JSON-RPC URL must be http(s): ${this.url.protocol}`);
    this.agent = this.url.protocol === 'https:' ? new HttpsAgent({ keepAlive: true }) : new HttpAgent({ keepAlive: true });
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.maxBytes = options.maxBytes ?? 4 * 1024 * 1024;
  }

  async request(method: string, params: unknown[]): Promise<unknown> {
    try {
      return await this.once(method, params);
    } catch (err) {
      if ((err as { retry?: boolean }).retry === true) return this.once(method, params);
      throw err;
    }
  }

  private once(method: string, params: unknown[]): Promise<unknown> {
    const id = this.nextId++;
    const body = JSON.stringify({ jsonrpc: '2.0', id, method, params });
    const send = this.url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      let settled = false;
      const finish = (err: Error | undefined, value?: unknown) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (err) reject(err);
        else resolve(value);
      };
      const headers: Record<string, string | number> = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) };
      // Basic auth in the URL (some providers use it) goes in the header, never in a log.
      if (this.url.username !== '') {
        headers['authorization'] =
          `Basic ${Buffer.from(`${decodeURIComponent(this.url.username)}:${decodeURIComponent(this.url.password)}`).toString('base64')}`;
      }
      const req = send(
        {
          agent: this.agent,
          protocol: this.url.protocol,
          hostname: this.url.hostname,
          port: this.url.port,
          path: `${this.url.pathname}${this.url.search}`,
          method: 'POST',
          headers,
        },
        (res: IncomingMessage) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > this.maxBytes) {
              req.destroy();
              finish(new JsonRpcError(`${method}: the answer is larger than ${this.maxBytes} bytes`));
              return;
            }
            chunks.push(chunk);
          });
          res.on('error', (err) => finish(err));
          res.on('end', () => {
            if (res.statusCode !== 200) {
              finish(new JsonRpcError(`${method}: HTTP ${res.statusCode ?? 0} from the RPC`));
              return;
            }
            let answer: { id?: unknown; result?: unknown; error?: { code?: number; message?: string; data?: unknown } };
            try {
              answer = JSON.parse(Buffer.concat(chunks).toString('utf8')) as typeof answer;
            } catch {
              finish(new JsonRpcError(`${method}: the RPC did not answer JSON`));
              return;
            }
            if (typeof answer !== 'object' || answer === null || answer.id !== id) finish(new JsonRpcError(`${method}: the RPC answered another request`));
            else if (answer.error) finish(new JsonRpcError(`${method}: ${String(answer.error.message ?? 'error')}`, answer.error.code, answer.error.data));
            else if (!('result' in answer)) finish(new JsonRpcError(`${method}: the RPC answered no result`));
            else finish(undefined, answer.result);
          });
        },
      );
      const timer = setTimeout(() => {
        req.destroy();
        finish(new JsonRpcError(`${method}: no answer from the RPC within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      req.on('error', (err: NodeJS.ErrnoException) => {
        if (req.reusedSocket && err.code === 'ECONNRESET') Object.assign(err, { retry: true });
        finish(err);
      });
      req.end(body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}
