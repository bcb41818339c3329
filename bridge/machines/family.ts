/** The machine-payments API as a Koa app: error shape, JSON bodies, routes. */
import { Router } from '@koa/router';
import Koa from 'koa';
import type { Logger } from 'pino';
import { errorMiddleware } from '../errors.js';
import { MACHINES_ERRORS } from '../families.js';
import { jsonBody } from '../http/body.js';
import { accountRoutes } from './routes/accounts.js';
import { assetRoutes } from './routes/assets.js';
import { eventRoutes } from './routes/events.js';
import type { MachinesDeps } from './routes/shared.js';
import { webhookRoutes } from './routes/webhooks.js';

export interface MachinesFamilyOptions {
  bodyLimitBytes: number;
  log: Logger;
  /** Extra routes on the same router (documents, later the Lightning rail). */
  extend?: ((router: Router) => void)[];
}

export function machinesRouter(deps: MachinesDeps, extend: ((router: Router) => void)[] = []): Router {
  const router = new Router();
  accountRoutes(router, deps);
  assetRoutes(router, deps);
  eventRoutes(router, deps);
  webhookRoutes(router, deps);
  for (const add of extend) add(router);
  return router;
}

export function machinesFamily(deps: MachinesDeps, options: MachinesFamilyOptions): Koa {
  const app = new Koa();
  const router = machinesRouter(deps, options.extend);
  app.use(errorMiddleware(MACHINES_ERRORS, options.log));
  for (const mw of jsonBody(options.bodyLimitBytes)) app.use(mw);
  app.use(router.routes());
  app.use(router.allowedMethods({ throw: true }));
  return app;
}
