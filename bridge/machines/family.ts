/** The machine-payments API as one middleware: error shape, JSON bodies, routes. */
import { Router } from '@koa/router';
import type { Middleware } from 'koa';
import type { Logger } from 'pino';
import { MACHINES_ERRORS } from '../http/error-shapes.js';
import { familyMiddleware } from '../http/family.js';
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

export function machinesFamily(deps: MachinesDeps, options: MachinesFamilyOptions): Middleware {
  const router = machinesRouter(deps, options.extend);
  return familyMiddleware(MACHINES_ERRORS, router, options);
}
