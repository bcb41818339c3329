/** Routes: the API's own documents (OpenAPI, PDF) and the liveness probe. All public. */
import type { Router } from '@koa/router';
import type { Config } from '../../config.js';
import { openApiDocument } from '../docs/openapi.js';
import { docsPdf } from '../docs/pdf.js';
import type { DocsSettings } from '../docs/guide.js';

/** What the documents need to know about this deployment. */
export type DocsConfig = Pick<Config, 'publicUrl' | 'port' | 'rateLimitPerMinute' | 'rateLimitPerAccountPerMinute' | 'maxKeysPerAccount' | 'maxAssetsPerAccount' | 'signupsPerHour'> & { prefixes: Pick<Config['prefixes'], 'machines'> };

const DEFAULT_PORT = 3000;

export function docsRoutes(config: DocsConfig): (router: Router) => void {
  const prefix = config.prefixes.machines;
  // Examples need an absolute URL; without PUBLIC_URL, assume the local default the bridge reports.
  const settings: DocsSettings = {
    baseUrl: `${config.publicUrl ?? `http://localhost:${config.port || DEFAULT_PORT}`}${prefix}`,
    rateLimitPerMinute: config.rateLimitPerMinute,
    rateLimitPerAccountPerMinute: config.rateLimitPerAccountPerMinute,
    maxKeysPerAccount: config.maxKeysPerAccount,
    maxAssetsPerAccount: config.maxAssetsPerAccount,
    signupsPerHour: config.signupsPerHour,
  };
  // OpenAPI resolves a relative server URL against the document's own, which is right behind any host.
  const serverUrl = config.publicUrl === undefined ? prefix || '/' : `${config.publicUrl}${prefix}`;
  let openapi: string | undefined;

  return (router) => {
    router.get('/healthz', (ctx) => {
      ctx.body = { ok: true };
    });

    router.get('/openapi.json', (ctx) => {
      openapi ??= JSON.stringify(openApiDocument({ serverUrl, settings }));
      ctx.set('Cache-Control', 'public, max-age=3600');
      ctx.type = 'application/json';
      ctx.body = openapi;
    });

    router.get('/api/public/docs.pdf', async (ctx) => {
      const pdf = await docsPdf(settings);
      ctx.set('Cache-Control', 'public, max-age=3600');
      ctx.set('Content-Disposition', 'inline; filename="paywire-api.pdf"');
      ctx.type = 'application/pdf';
      ctx.body = pdf;
    });
  };
}
