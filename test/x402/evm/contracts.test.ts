/**
 * The committed test-contract artifact (test/fixtures/contracts/artifacts.json, which the test chain deploys)
 * is what solc 0.8.28 makes of the Solidity sources beside it: recompiled here and compared.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ARTIFACTS_FILE, compileContracts } from '../../fixtures/contracts/compile.js';

describe('test contracts', () => {
  it('the committed artifact matches a fresh compile of the sources', { timeout: 60_000 }, () => {
    expect(JSON.parse(readFileSync(ARTIFACTS_FILE, 'utf8'))).toEqual(compileContracts());
  });
});
