/**
 * The configurable Lightning backends, by kind. `dev` is not here: it is the bridge's own node,
 * built from its node key, with nothing to configure.
 */
import type { BackendSpec } from './backend.js';

export type ConfigurableKind = 'lnbits' | 'lnd' | 'btcpay' | 'lnaddress';

export const BACKEND_SPECS: Partial<Record<ConfigurableKind, BackendSpec>> = {};
