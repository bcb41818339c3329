/** Run the bridge as `npm start` does (`node --import tsx bridge/cli.ts`) in a child process. */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface BridgeProcess {
  child: ChildProcess;
  url: string;
  mqttPort: number | undefined;
  stdout: string[];
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Children still running when the test process exits (a test that failed half-way) are killed. */
const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

export function spawnCli(
  env: Record<string, string>,
  args: string[] = [],
): { child: ChildProcess; stdout: string[]; stderr: () => string; exited: BridgeProcess['exited'] } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bridge/cli.ts', ...args], {
    cwd: ROOT,
    env: { PATH: process.env['PATH'] ?? '', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stdout: string[] = [];
  let err = '';
  let partial = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    partial += chunk;
    const lines = partial.split('\n');
    partial = lines.pop() ?? '';
    stdout.push(...lines);
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    err += chunk;
  });
  children.add(child);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => {
      children.delete(child);
      resolve({ code, signal });
    }),
  );
  return { child, stdout, stderr: () => err, exited };
}

/** Start the CLI and wait for its "listening" line. */
export async function startCli(env: Record<string, string>, timeoutMs = 15_000): Promise<BridgeProcess> {
  const proc = spawnCli(env);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const line = proc.stdout.find((l) => l.startsWith('paywire bridge listening on '));
    if (line) {
      const port = /listening on http:\/\/[^:]+:(\d+)/.exec(line)?.[1];
      const mqtt = /MQTT on port (\d+)/.exec(line)?.[1];
      return { ...proc, url: `http://127.0.0.1:${port}`, mqttPort: mqtt === undefined ? undefined : Number(mqtt) };
    }
    const exit = await Promise.race([proc.exited, new Promise((r) => setTimeout(r, 25, undefined))]);
    if (exit !== undefined) throw new Error(`bridge exited before listening: ${JSON.stringify(exit)}\n${proc.stderr()}`);
    if (Date.now() > deadline) {
      proc.child.kill('SIGKILL');
      throw new Error(`bridge did not start in time\n${proc.stderr()}`);
    }
  }
}

/** A TCP port free right now on 127.0.0.1, for a program that must be told its port (it cannot take 0). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
