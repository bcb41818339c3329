import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { backendSettingNames, LIGHTNING_BACKEND_SETTING, PREFIX_SETTING_NAMES, SETTINGS } from '../bridge/config.js';

describe('README', () => {
  it('documents every configuration setting in its table', async () => {
    const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8');
    const table = readme.slice(readme.indexOf('## Configuration'), readme.indexOf('## Architecture'));
    const documented = [...table.matchAll(/^\| `([A-Z0-9_]+)` \|/gm)].map((m) => m[1]);
    expect(documented.sort()).toEqual([...SETTINGS.map((s) => s.name), ...PREFIX_SETTING_NAMES, LIGHTNING_BACKEND_SETTING, ...backendSettingNames()].sort());
  });

  it('gives the two commands', async () => {
    const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8');
    expect(readme).toContain('npm install && npm start');
    expect(readme).toContain('npm test');
  });

  it('shows the tour exactly as test/fixtures/tour.sh runs it', async () => {
    const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8');
    const script = await readFile(new URL('./fixtures/tour.sh', import.meta.url), 'utf8');
    const section = readme.slice(readme.indexOf('## A quick tour'), readme.indexOf('## The machine-payments API'));
    const blocks = [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1] as string);
    const body = script.slice(script.indexOf('B=${B:-http://localhost:3000}'));
    expect(blocks).toContain(body);
  });
});
