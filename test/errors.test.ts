/**
 * The error base class: every error Paywire raises on purpose is a `PaywireError` with a code, and
 * the HTTP mapping follows the class (its code), never the class's name.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../bridge/config.js';
import { PaywireError, toAppError } from '../bridge/errors.js';
import { OutboundError, OutboundStatusError } from '../bridge/http/outbound.js';
import { BackendError } from '../bridge/lightning/backends/backend.js';
import { StoreCorruptError, StoreInUseError, StoreUnavailableError } from '../bridge/store/errors.js';

describe('PaywireError', () => {
  it('is the base of the backend, store, outbound and config errors, each with its code', () => {
    const errors = [
      [new BackendError('lnd', 'down'), 'backend_error'],
      [new StoreUnavailableError(new Error('disk full')), 'store_unavailable'],
      [new StoreCorruptError('bad record', { path: '/x' }), 'store_corrupt'],
      [new StoreInUseError('locked', '/x'), 'store_in_use'],
      [new OutboundError('timeout'), 'outbound_failed'],
      [new OutboundStatusError(502), 'outbound_status'],
      [new ConfigError(['PORT is not a number']), 'config_invalid'],
    ] as const;
    for (const [err, code] of errors) {
      expect(err).toBeInstanceOf(PaywireError);
      expect(err.code).toBe(code);
    }
  });

  it('maps a backend or store failure to its wire error whatever the class is named', () => {
    class RenamedBackendError extends BackendError {
      constructor() {
        super('lnbits', 'unreachable');
        this.name = 'RenamedBackendError';
      }
    }
    class RenamedStoreError extends StoreUnavailableError {
      constructor() {
        super(new Error('connection refused'));
        this.name = 'RenamedStoreError';
      }
    }
    const backend = toAppError(new RenamedBackendError());
    expect([backend.status, backend.code]).toEqual([500, 'backend_unavailable']);
    const store = toAppError(new RenamedStoreError());
    expect([store.status, store.code]).toEqual([503, 'backend_unavailable']);
  });
});
