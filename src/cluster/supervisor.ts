import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync, type WriteStream } from 'node:fs';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';

export interface ProcessSpec {
  /** e.g. `history`: in errors and logs. */
  name: string;
  command: string;
  args: string[];
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** stdout and stderr are appended here. */
  logFile: string;
}

/**
 * One binary the cluster runs (a server service, the UI server): started, killed (any signal: `SIGKILL` is what a
 * crash looks like), started again with the same spec, its last lines kept for error messages and its memory read
 * from /proc. It never restarts on its own: the caller (the cluster, a fault test) decides.
 */
export class SupervisedProcess {
  private child: ChildProcess | undefined;
  private exitedPromise: Promise<number | string> = Promise.resolve('not started');
  private log: WriteStream | undefined;
  private readonly tail: string[] = [];
  /** Times it exited without being asked to. */
  unexpectedExits = 0;
  private stopping = false;

  constructor(readonly spec: ProcessSpec) {}

  get pid(): number | undefined {
    return this.running ? this.child?.pid : undefined;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Resolves with the exit code or signal of the current run. */
  get exited(): Promise<number | string> {
    return this.exitedPromise;
  }

  /** The last lines it printed (for an error message). */
  lastLines(n = 15): string[] {
    return this.tail.slice(-n);
  }

  start(): void {
    if (this.running) throw new Error(`${this.spec.name} is already running (pid ${this.child?.pid})`);
    mkdirSync(dirname(this.spec.logFile), { recursive: true });
    this.log = createWriteStream(this.spec.logFile, { flags: 'a' });
    this.stopping = false;
    this.tail.length = 0;
    const child = spawn(this.spec.command, this.spec.args, {
      cwd: this.spec.cwd,
      env: this.spec.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    const log = this.log;
    const onLine = (line: string) => {
      log.write(`${line}\n`);
      this.tail.push(line);
      if (this.tail.length > 50) this.tail.shift();
    };
    createInterface({ input: child.stdout }).on('line', onLine);
    createInterface({ input: child.stderr }).on('line', onLine);
    this.exitedPromise = new Promise((resolve) => {
      child.once('error', (err) => {
        onLine(`spawn failed: ${err.message}`);
        log.end();
        resolve(`error: ${err.message}`);
      });
      child.once('exit', (code, signal) => {
        if (!this.stopping) this.unexpectedExits++;
        log.end();
        resolve(code ?? signal ?? 'unknown');
      });
    });
  }

  /** Sends `signal` and waits for the exit. `SIGKILL`: no shutdown at all. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (!this.running) return;
    this.stopping = true;
    this.child!.kill(signal);
    await this.exitedPromise;
  }

  /** SIGTERM (the server drains), then SIGKILL after `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    if (!this.running) return;
    this.stopping = true;
    this.child!.kill('SIGTERM');
    const timer = setTimeout(() => this.child?.kill('SIGKILL'), graceMs);
    await this.exitedPromise;
    clearTimeout(timer);
  }

  /** Resident memory in bytes (VmRSS), undefined when not running. */
  rssBytes(): number | undefined {
    const pid = this.pid;
    if (!pid) return undefined;
    try {
      const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      return match ? Number(match[1]) * 1024 : undefined;
    } catch {
      return undefined;
    }
  }
}
