/** Run an external program with a timeout and collect its output; or start one and watch its output as it comes. */
import { execFile, spawn, type ChildProcess } from 'node:child_process';

export interface RunResult {
  /** The exit code; null when it was killed (timeout). */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Run `file args`, resolve when it exits (a non-zero exit is a result, not an error). */
export function run(file: string, args: string[], timeoutMs = 15_000): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: timeoutMs, killSignal: 'SIGKILL', encoding: 'utf8' }, (err, stdout, stderr) => {
      const e = err as (NodeJS.ErrnoException & { code?: string | number; signal?: NodeJS.Signals | null }) | null;
      if (e && e.code === 'ENOENT') return reject(e);
      resolve({ code: e ? (typeof e.code === 'number' ? e.code : null) : 0, signal: e?.signal ?? null, stdout, stderr });
    });
  });
}

export interface Watched {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<RunResult>;
  /** Resolves once stdout or stderr contains `text`. */
  waitFor(text: string | RegExp, timeoutMs?: number): Promise<void>;
}

/** Start `file args` and watch its output; killed with SIGKILL after `timeoutMs`. */
export function watch(file: string, args: string[], timeoutMs = 15_000): Watched {
  const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const listeners = new Set<() => void>();
  const changed = () => {
    for (const l of listeners) l();
  };
  child.stdout?.setEncoding('utf8').on('data', (c: string) => {
    out += c;
    changed();
  });
  child.stderr?.setEncoding('utf8').on('data', (c: string) => {
    err += c;
    changed();
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const exited = new Promise<RunResult>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      changed();
      resolve({ code, signal, stdout: out, stderr: err });
    });
  });
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitFor(text, ms = 10_000) {
      const seen = () => (typeof text === 'string' ? (out + err).includes(text) : text.test(out + err));
      return new Promise((resolve, reject) => {
        if (seen()) return resolve();
        const deadline = setTimeout(() => {
          listeners.delete(check);
          reject(new Error(`${file} did not print ${String(text)} within ${ms} ms; stdout: ${out}; stderr: ${err}`));
        }, ms);
        const check = () => {
          if (seen()) {
            clearTimeout(deadline);
            listeners.delete(check);
            resolve();
          } else if (child.exitCode !== null || child.signalCode !== null) {
            clearTimeout(deadline);
            listeners.delete(check);
            reject(new Error(`${file} exited before printing ${String(text)}; stdout: ${out}; stderr: ${err}`));
          }
        };
        listeners.add(check);
      });
    },
  };
}
