/**
 * The firmware core's host tests (hardware/core/test): built with g++ -Wall -Wextra -Werror and run
 * under AddressSanitizer and UBSan by `make -C hardware core-test`. Any failed check, sanitizer report
 * or compiler warning is a non-zero exit, and fails this test. `core-portable` compiles the core as
 * C++11 and with avr-g++ (the sketches' compilers); `esp32-check` compiles the ESP32 sketch on the host
 * against stand-in headers of its pinned libraries (no ESP32 toolchain is reachable).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/process.js';

const run = promisify(execFile);

describe('hardware/core host tests', () => {
  it('build warning-free and pass under ASan and UBSan', async () => {
    const result = await run('make', ['-C', 'hardware', 'core-test', 'core-portable', 'esp32-check'], { cwd: ROOT, timeout: 180_000, maxBuffer: 16 * 1024 * 1024 }).catch(
      (err: { stdout?: string; stderr?: string; code?: number }) => err,
    );
    const out = `${result.stdout ?? ''}${result.stderr ?? ''}`;
    expect('code' in result && result.code !== undefined ? out : '').toBe('');
    const summary = /(\d+) tests, (\d+) checks, (\d+) failed/.exec(out);
    expect(summary?.[3]).toBe('0');
    // Every suite ran: topics, json, seen, relay, machine, serial, license.
    for (const suite of ['topics', 'json', 'seen', 'relay', 'machine', 'serial', 'license']) expect(out).toMatch(new RegExp(`^ok   ${suite}: `, 'm'));
    expect(out).not.toMatch(/^FAIL /m);
    expect(Number(summary?.[1])).toBeGreaterThanOrEqual(50);
    // And it builds where the sketches build: C++11, and avr-g++ for the Uno.
    expect(out).toContain('core builds as C++11 on the host and on AVR');
    // The ESP32 sketch, which cannot be built here, at least compiles against headers declaring its libraries' APIs.
    expect(out).toContain('esp32 sketch compiles against the stand-in headers');
  }, 200_000);
});
