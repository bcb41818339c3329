/** Routes: the API's own documents (OpenAPI, PDF) and the liveness probe. */
import type { Router } from '@koa/router';

export function docsRoutes(router: Router): void {
  router.get('/healthz', (ctx) => {
    ctx.body = { ok: true };
  });
}
