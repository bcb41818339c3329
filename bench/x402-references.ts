/**
 * The reference facilitators as HTTP services, for bench/x402: `POST /verify` with `{paymentPayload,
 * paymentRequirements}`, answering the package's own verify response, as the x402 repository's example
 * facilitators serve them. v1 (`x402` 1.2.0): the body parsed with the package's `PaymentPayloadSchema` and
 * `PaymentRequirementsSchema`, then `verify(client, payload, requirements)`. v2 (`@x402/evm` 2.27): an
 * `x402Facilitator` from `@x402/core` with the exact EVM scheme registered for the network, then
 * `facilitator.verify(payload, requirements)`. The examples run on Express; these run on bare `node:http`
 * with one viem client made at start (the v1 example makes one per request), which only makes the references
 * faster. Neither checks a client key, keeps request metrics or writes a request log, as ours does.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ExactEvmFacilitatorScheme, PaymentPayloadSchemaV1, PaymentRequirementsSchemaV1, referenceVerifyV1, x402Facilitator } from '../test/compat/clients.js';

export interface ReferenceServer {
  url: string;
  close(): Promise<void>;
}

/** x402 1.2.0's facilitator: `client` is a viem public client of the compat package's viem. */
export function serveReferenceV1(client: unknown): Promise<ReferenceServer> {
  return serve(async (body) => {
    const requirements = PaymentRequirementsSchemaV1.parse(body['paymentRequirements']);
    const payload = PaymentPayloadSchemaV1.parse(body['paymentPayload']);
    return referenceVerifyV1(client as never, payload, requirements);
  });
}

/** @x402/core's facilitator with @x402/evm's exact scheme on `network` (CAIP-2). */
export function serveReferenceV2(scheme: InstanceType<typeof ExactEvmFacilitatorScheme>, network: string): Promise<ReferenceServer> {
  const facilitator = new x402Facilitator().register(network as never, scheme);
  return serve(async (body) => {
    if (!body['paymentPayload'] || !body['paymentRequirements']) throw new Error('Missing paymentPayload or paymentRequirements');
    return facilitator.verify(body['paymentPayload'] as never, body['paymentRequirements'] as never);
  });
}

/** One route, POST /verify: JSON in, JSON out (with Content-Length, which bench/http-load.ts needs); 400 on a throw. */
async function serve(verify: (body: Record<string, unknown>) => Promise<unknown>): Promise<ReferenceServer> {
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const answer = (status: number, value: unknown) => {
        const text = JSON.stringify(value);
        res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
        res.end(text);
      };
      if (req.method !== 'POST' || req.url !== '/verify') return answer(404, { error: 'Not found' });
      Promise.resolve()
        .then(() => verify(JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>))
        .then(
          (verdict) => answer(200, verdict),
          (err: unknown) => answer(400, { error: err instanceof Error ? err.message : String(err) }),
        );
    });
  });
  server.listen(0, '127.0.0.1');
  await new Promise<void>((resolve, reject) => server.once('listening', resolve).once('error', reject));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
