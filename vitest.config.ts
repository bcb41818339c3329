import { defineConfig } from 'vitest/config';

/**
 * Two projects: `journal` runs every test on the embedded journal (the store contract suites run
 * both engines themselves); `postgres` runs the end-to-end subset below again with every bridge on
 * PostgreSQL (PAYWIRE_TEST_ENGINE=postgres): accounts, assets, events and webhooks over HTTP,
 * uniqueness under concurrency, every documented example and the README's tour as a script, the LNURL pay flow
 * through settlement to the MQTT payment, the MQTT contract and durability, and the SIGKILL crash
 * test, and a payment for a deleted asset (refund_due, kept out of the outbox). (The outage test is PostgreSQL-only and runs in `journal`'s list.)
 */
export const POSTGRES_E2E = [
  'test/machines/accounts.test.ts',
  'test/machines/assets.test.ts',
  'test/machines/events.test.ts',
  'test/machines/webhooks.test.ts',
  'test/machines/uniqueness.test.ts',
  'test/machines/docs.test.ts',
  'test/lightning/lnurl-flow.test.ts',
  'test/broker/contract.test.ts',
  'test/broker/durability.test.ts',
  'test/crash.test.ts',
  'test/security/assets-deleted-pending.test.ts',
  'test/ops/tour.test.ts',
  'test/x402/agents/lightning.test.ts',
  'test/x402/api/users.test.ts',
  'test/x402/api/clients.test.ts',
  'test/x402/api/resources.test.ts',
  'test/x402/api/admin.test.ts',
  'test/x402/api/facilitator.test.ts',
  'test/license/server.test.ts',
  'test/license/seats.test.ts',
  'test/license/purchase-flow.test.ts',
  'test/license/purchase-recovery.test.ts',
  'test/license/signing-key.test.ts',
];

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    projects: [
      { extends: true, test: { name: 'journal', include: ['test/**/*.test.ts'] } },
      { extends: true, test: { name: 'postgres', include: POSTGRES_E2E, env: { PAYWIRE_TEST_ENGINE: 'postgres' } } },
    ],
  },
});
