import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { createInterface } from 'node:readline';

export interface ServiceOptions {
  /** Shown in errors, e.g. `sandbox`. */
  name: string;
  /** TypeScript entry point, run with tsx. */
  entry: string;
  env: NodeJS.ProcessEnv;
  /** Every stdout/stderr line of the child is appended here. */
  logFile: string;
  /** The child is ready when it prints a JSON line whose `event` equals this. */
  readyEvent: string;
  /** @default 60 seconds (a worker bundles its workflows before it is ready) */
  readyTimeoutMs?: number;
}

export interface ServiceProcess {
  name: string;
  child: ChildProcess;
  /** The ready line, parsed. */
  ready: Promise<Record<string, unknown>>;
  /** Resolves with the exit code (or signal name) when the child is gone. */
  exited: Promise<number | string>;
  /** SIGTERM, then SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
  /** SIGKILL now: what a crash looks like to Temporal. */
  kill(): Promise<void>;
}

/**
 * Starts one of this project's processes (sandbox, worker, receiver) as a child, waits for its ready
 * line and keeps its log in a file. Used by `npm start`, the test setup and the benchmarks.
 */
export function startService(options: ServiceOptions): ServiceProcess {
  mkdirSync(dirname(options.logFile), { recursive: true });
  const log = createWriteStream(options.logFile, { flags: 'a' });
  const child = spawn(process.execPath, ['--import', 'tsx', resolve(options.entry)], {
    env: options.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const tail: string[] = [];
  const exited = new Promise<number | string>((res) =>
    child.once('exit', (code, signal) => {
      log.end();
      res(code ?? signal ?? 'unknown');
    }),
  );

  const ready = new Promise<Record<string, unknown>>((res, rej) => {
    const timer = setTimeout(() => {
      rej(
        new Error(`${options.name} was not ready after ${options.readyTimeoutMs ?? 60_000} ms; see ${options.logFile}`),
      );
    }, options.readyTimeoutMs ?? 60_000);
    const onLine = (line: string) => {
      log.write(`${line}\n`);
      tail.push(line);
      if (tail.length > 20) tail.shift();
      if (!line.startsWith('{')) return;
      try {
        const parsed = JSON.parse(line) as Record<string, unknown>;
        if (parsed.event === options.readyEvent) {
          clearTimeout(timer);
          res(parsed);
        }
      } catch {
        // not JSON: just a log line
      }
    };
    createInterface({ input: child.stdout }).on('line', onLine);
    createInterface({ input: child.stderr }).on('line', onLine);
    void exited.then((code) => {
      clearTimeout(timer);
      rej(new Error(`${options.name} exited (${code}) before it was ready:\n${tail.join('\n')}`));
    });
  });
  ready.catch(() => {}); // the caller awaits it; don't crash on an unobserved rejection after stop()

  async function stop(graceMs = 10_000): Promise<void> {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  }
  async function kill(): Promise<void> {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGKILL');
    await exited;
  }
  return { name: options.name, child, ready, exited, stop, kill };
}
