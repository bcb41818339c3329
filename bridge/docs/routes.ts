/**
 * Routes: the API's own documents (OpenAPI, PDF) and the liveness probe. All public. The documents
 * are made on first request, after the server listens, with the same public URL as the LNURLs
 * (`PUBLIC_URL`, else where the bridge is bound): examples, the PDF's base URL and OpenAPI's
 * `servers` all name the server that answers them.
 */
import type { Router } from '@koa/router';
import type { Config } from '../config.js';
import type { PublicUrls } from '../urls.js';
import { openApiDocument } from './openapi.js';
import { docsPdf } from './pdf.js';
import type { DocsSettings } from './guide.js';

/** What the documents need to know about this deployment. */
export type DocsConfig = Pick<Config, 'rateLimitPerMinute' | 'rateLimitPerAccountPerMinute' | 'maxKeysPerAccount' | 'maxAssetsPerAccount' | 'signupsPerHour' | 'prefixes'>;

export function docsRoutes(config: DocsConfig, urls: Pick<PublicUrls, 'base'>): (router: Router) => void {
  const prefix = config.prefixes.machines;
  const settings = (): DocsSettings => ({
    baseUrl: `${urls.base}${prefix}`,
    rateLimitPerMinute: config.rateLimitPerMinute,
    rateLimitPerAccountPerMinute: config.rateLimitPerAccountPerMinute,
    maxKeysPerAccount: config.maxKeysPerAccount,
    maxAssetsPerAccount: config.maxAssetsPerAccount,
    signupsPerHour: config.signupsPerHour,
  });
  let openapi: string | undefined;

  return (router) => {
    router.get('/healthz', (ctx) => {
      ctx.body = { ok: true };
    });

    router.get('/openapi.json', (ctx) => {
      const { lnurl, x402, license } = config.prefixes;
      openapi ??= JSON.stringify(openApiDocument({ serverUrl: `${urls.base}${prefix}`, settings: settings(), mounts: { base: urls.base, lnurl, x402, license } }));
      ctx.set('Cache-Control', 'public, max-age=3600');
      ctx.type = 'application/json';
      ctx.body = openapi;
    });

    router.get('/api/public/docs.pdf', async (ctx) => {
      const pdf = await docsPdf(settings());
      ctx.set('Cache-Control', 'public, max-age=3600');
      ctx.set('Content-Disposition', 'inline; filename="paywire-api.pdf"');
      ctx.type = 'application/pdf';
      ctx.body = pdf;
    });
  };
}
