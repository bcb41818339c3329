/**
 * The configurable Lightning backends, by kind. `dev` is not here: it is the bridge's own node,
 * built from its node key, with nothing to configure.
 */
import type { BackendSpec } from './backend.js';
import { btcpaySpec } from './btcpay.js';
import { lnaddressSpec } from './lnaddress.js';
import { lnbitsSpec } from './lnbits.js';
import { lndSpec } from './lnd.js';

type ConfigurableKind = 'lnbits' | 'lnd' | 'btcpay' | 'lnaddress';

export const BACKEND_SPECS: Partial<Record<ConfigurableKind, BackendSpec>> = {
  btcpay: btcpaySpec,
  lnaddress: lnaddressSpec,
  lnbits: lnbitsSpec,
  lnd: lndSpec,
};
