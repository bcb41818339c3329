/**
 * The committed contract artifacts — test/fixtures/contracts/artifacts.json (the test chain deploys them) and
 * bridge/x402/evm/contracts/artifacts.json (the facilitator's batched verify reads) — are what solc 0.8.28 makes
 * of the Solidity sources beside them: recompiled here and compared.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { artifactsFile, compileContracts, CONTRACT_DIRS } from '../../fixtures/contracts/compile.js';

describe('test contracts', () => {
  it.each(CONTRACT_DIRS)('the committed artifact in %s matches a fresh compile of the sources', { timeout: 60_000 }, (dir) => {
    expect(JSON.parse(readFileSync(artifactsFile(dir), 'utf8'))).toEqual(compileContracts(dir));
  });
});
