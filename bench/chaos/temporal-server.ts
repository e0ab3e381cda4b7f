import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { createServer } from 'node:net';
import { dirname } from 'node:path';
import { Connection } from '@temporalio/client';
import { TypedSearchAttributes } from '@temporalio/common';
import { resolveTemporalCli, type ResolvedCli } from '../../src/devserver/temporal-cli';
import { customSearchAttributes } from '../../src/contracts/search-attributes';
import { waitUntil } from './wait';

export interface TemporalServerOptions {
  /** SQLite file: kept across kills and restarts, so the server comes back with every history. */
  dbFilename: string;
  /** Every line the server prints, across restarts. */
  logFile: string;
  /** gRPC port; a free one when unset (then kept for every restart). */
  port?: number;
  /** How long a start may take to answer, including SQLite recovery after a kill. @default 90 s */
  readyTimeoutMs?: number;
}

/**
 * The Temporal CLI dev server as a child process of our own (not the SDK's ephemeral server), so the
 * chaos runner can `kill -9` it and start it again on the same port and the same SQLite file.
 */
export class TemporalServerProcess {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private log: WriteStream | undefined;
  private starts = 0;

  private constructor(
    readonly cli: ResolvedCli,
    readonly port: number,
    private readonly options: TemporalServerOptions,
  ) {}

  static async start(options: TemporalServerOptions): Promise<TemporalServerProcess> {
    const cli = await resolveTemporalCli({ onProgress: (line) => console.log(line) });
    const server = new TemporalServerProcess(cli, options.port ?? (await freePort()), options);
    mkdirSync(dirname(options.dbFilename), { recursive: true });
    await server.restart();
    return server;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Starts the server (again) and resolves once a client call answers. */
  async restart(): Promise<void> {
    if (this.running) throw new Error('the Temporal server is already running');
    this.starts += 1;
    this.log ??= createWriteStream(this.options.logFile, { flags: 'a' });
    this.log.write(`--- start #${this.starts} at ${new Date().toISOString()}\n`);
    const args = [
      'server',
      'start-dev',
      '--ip',
      '127.0.0.1',
      '--port',
      String(this.port),
      '--headless',
      '--db-filename',
      this.options.dbFilename,
      '--namespace',
      'default',
      ...customSearchAttributes.flatMap((a) => [
        '--search-attribute',
        `${a.name}=${TypedSearchAttributes.toMetadataType(a.type)}`,
      ]),
      '--log-format',
      'json',
      '--log-level',
      'error',
    ];
    const child = spawn(this.cli.path, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    const log = this.log;
    child.stdout?.on('data', (chunk: Buffer) => log.write(chunk));
    child.stderr?.on('data', (chunk: Buffer) => log.write(chunk));
    this.exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    await waitUntil(
      `the Temporal server on ${this.address} to answer (see ${this.options.logFile})`,
      async () => {
        if (child.exitCode !== null || child.signalCode !== null) {
          throw new Error(
            `the Temporal server exited (${child.exitCode ?? child.signalCode}); see ${this.options.logFile}`,
          );
        }
        return answers(this.address);
      },
      { timeoutMs: this.options.readyTimeoutMs ?? 90_000, intervalMs: 250 },
    );
  }

  /** `kill -9`: no shutdown, whatever SQLite had not committed is lost, like a crashed host. */
  async kill(): Promise<void> {
    if (!this.running) return;
    this.child?.kill('SIGKILL');
    await this.exited;
  }

  /** SIGTERM, then SIGKILL after `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    if (this.running) {
      this.child?.kill('SIGTERM');
      const timer = setTimeout(() => this.child?.kill('SIGKILL'), graceMs);
      await this.exited;
      clearTimeout(timer);
    }
    await new Promise<void>((resolve) => (this.log ? this.log.end(resolve) : resolve()));
    this.log = undefined;
  }
}

/** One cheap call on a fresh connection: true when the frontend answers. */
async function answers(address: string): Promise<boolean> {
  let connection: Connection | undefined;
  try {
    connection = await Connection.connect({ address, connectTimeout: 2_000 });
    await connection.workflowService.getSystemInfo({});
    // Namespace registration lags the frontend by a moment on a fresh database.
    await connection.workflowService.describeNamespace({ namespace: 'default' });
    return true;
  } catch {
    return false;
  } finally {
    await connection?.close().catch(() => {});
  }
}

/** A port nobody listens on right now (the OS picks it). */
export async function freePort(): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
