import { mkdirSync, readFileSync } from 'node:fs';
import pino from 'pino';
import { join } from 'node:path';
import { IntegrationsClient } from '../../src/client';
import { OrderIntents } from '../../src/client/order-intents';
import type { ChargeOutcome } from '../../src/contracts/messages';
import { ControlPlane } from '../../src/control/control-plane';
import { payments } from '../../src/integrations/payments/payments.integration';
import { IntegrationEngine } from '../../src/integrations/runtime/engine';
import { createLogger } from '../../src/observability/logger';
import { devCredentials } from '../../src/devserver/dev-credentials';
import { startService, type ServiceProcess } from '../../src/devserver/service-process';
import { SandboxAdminClient } from '../../src/sandbox/admin-client';
import { dropBenchTable, ensureBenchDatabase } from '../support/database';
import { TemporalServerProcess } from './temporal-server';

/** A worker that keeps dying (e.g. workflow code that does not build) is replaced this often, then left dead. */
const maxReplacedCrashes = 10;

export interface StackEvent {
  at: number;
  what: string;
}

export interface ChaosStackOptions {
  /** Logs, the SQLite file: `.tmp/chaos-<pid>/`. */
  dir: string;
  /** Worker processes kept running. @default 2 */
  workers?: number;
  log: (line: string) => void;
}

/** One worker process (src/workers/main.ts, as production runs it) and why it ended, if it did. */
export interface WorkerHandle {
  name: string;
  process: ServiceProcess;
  /** Set before a deliberate kill or stop, so its exit is not reported as a crash. */
  intended: boolean;
}

/**
 * The whole real stack, every part a process the runner controls: the Temporal dev server (SQLite file,
 * fixed port, so it can be killed and restarted), the provider sandbox, and N worker processes that can
 * be SIGKILLed and replaced. A worker that dies on its own is reported and replaced.
 */
export class ChaosStack {
  readonly events: StackEvent[] = [];
  private readonly workers: WorkerHandle[] = [];
  private workerSeq = 0;
  /** Workers that exited without being told to. */
  crashes = 0;
  private stopping = false;

  private constructor(
    private readonly options: ChaosStackOptions,
    readonly server: TemporalServerProcess,
    private readonly sandbox: ServiceProcess,
    readonly sandboxUrl: string,
    private readonly workerEnv: NodeJS.ProcessEnv,
    readonly admin: SandboxAdminClient,
    readonly client: IntegrationsClient,
    /** startOrder's co-located fast path (`directCalls`): its own engine, gated by the shared control plane. */
    readonly fastClient: IntegrationsClient,
    private readonly fastEngine: { engine: IntegrationEngine; control: ControlPlane },
    /**
     * The same fast path with the order recorded first (`orderIntents`): the charge and the start together.
     * Its relay starts what a killed service (`startService`) recorded and did not start.
     */
    readonly recordedClient: IntegrationsClient,
    readonly intents: { url: string; table: string },
  ) {}

  static async start(options: ChaosStackOptions): Promise<ChaosStack> {
    mkdirSync(options.dir, { recursive: true });
    const credentials = devCredentials();
    const sandbox = startService({
      name: 'sandbox',
      entry: 'src/sandbox/main.ts',
      env: { ...process.env, SANDBOX_PORT: '0', ...credentials.sandboxEnv },
      logFile: join(options.dir, 'sandbox.log'),
      readyEvent: 'sandbox.listening',
    });
    let server: TemporalServerProcess | undefined;
    try {
      const [started, ready] = await Promise.all([
        TemporalServerProcess.start({
          dbFilename: join(options.dir, 'temporal.sqlite'),
          logFile: join(options.dir, 'temporal.log'),
        }),
        sandbox.ready,
      ]);
      server = started;
      const sandboxUrl = String(ready.url);
      options.log(
        `Temporal ${server.cli.version} at ${server.address}; sandbox at ${sandboxUrl}; logs in ${options.dir}`,
      );
      const workerEnv: NodeJS.ProcessEnv = {
        ...process.env,
        TEMPORAL_ADDRESS: server.address,
        LOG_LEVEL: 'info',
        ...credentials.integrationEnv(sandboxUrl),
      };
      const client = await IntegrationsClient.connect({ address: server.address });
      // The service's own engine, built as a worker builds its own: the same control plane (breakers, kill
      // switches), the same integration settings; it logs to the runner's directory.
      const logger = createLogger({
        name: 'chaos-direct-calls',
        level: 'warn',
        destination: pino.destination({ dest: join(options.dir, 'direct-calls.log'), sync: true }),
      });
      const control = new ControlPlane({ client: client.temporal, logger: logger.child({ component: 'control' }) });
      // As a worker does: the state read in the background, so no send waits for a read (nor lags the workflow's).
      control.prefetch([payments]);
      const engine = new IntegrationEngine({
        logger: logger.child({ component: 'integration' }),
        control,
        env: { ...process.env, ...credentials.integrationEnv(sandboxUrl) },
      });
      const fastClient = await IntegrationsClient.connect({ address: server.address, directCalls: engine });
      const intents = { url: await ensureBenchDatabase('di_chaos'), table: `order_intents_${process.pid}` };
      const recordedClient = await IntegrationsClient.connect({
        address: server.address,
        directCalls: engine,
        // A short grace: a killed service's orders are started within seconds, while the case still runs.
        orderIntents: new OrderIntents({ ...intents, graceMs: 3_000, pollMs: 500, logger }),
      });
      const stack = new ChaosStack(
        options,
        server,
        sandbox,
        sandboxUrl,
        workerEnv,
        new SandboxAdminClient(sandboxUrl),
        client,
        fastClient,
        { engine, control },
        recordedClient,
        intents,
      );
      const workers = Array.from({ length: options.workers ?? 2 }, () => stack.startWorker());
      await Promise.all(workers.map((w) => w.process.ready));
      stack.note(`${workers.length} workers ready`);
      return stack;
    } catch (err) {
      await sandbox.stop();
      await server?.stop();
      throw err;
    }
  }

  note(what: string): void {
    this.events.push({ at: Date.now(), what });
    this.options.log(`  [stack] ${what}`);
  }

  /** Worker processes not killed or exited. */
  liveWorkers(): WorkerHandle[] {
    return this.workers.filter((w) => w.process.child.exitCode === null && w.process.child.signalCode === null);
  }

  /** Starts a worker process; resolve `process.ready` to wait for it (it bundles the workflows first). */
  startWorker(): WorkerHandle {
    this.workerSeq += 1;
    const name = `worker-${this.workerSeq}`;
    const process = startService({
      name,
      entry: 'src/workers/main.ts',
      env: this.workerEnv,
      logFile: join(this.options.dir, `${name}.log`),
      readyEvent: 'worker.ready',
      readyTimeoutMs: 240_000,
    });
    const handle: WorkerHandle = { name, process, intended: false };
    this.workers.push(handle);
    void process.exited.then((code) => {
      if (handle.intended || this.stopping) return;
      this.crashes += 1;
      const log = join(this.options.dir, `${name}.log`);
      if (this.crashes > maxReplacedCrashes) {
        this.note(`${name} exited on its own (${code}); see ${log}; too many crashes, not replacing it`);
        return;
      }
      this.note(`${name} exited on its own (${code}); see ${log}; replacing it`);
      this.startWorker();
    });
    return handle;
  }

  /** SIGKILL one worker (no graceful shutdown: in-flight tasks are lost) and start its replacement. */
  async killWorker(worker: WorkerHandle, why: string): Promise<WorkerHandle> {
    worker.intended = true;
    await worker.process.kill();
    const replacement = this.startWorker();
    this.note(`${worker.name} SIGKILLed (${why}); ${replacement.name} starting`);
    return replacement;
  }

  /**
   * A service process of its own (bench/chaos/service.ts): it records and starts these orders through the
   * fast path with the order record, and can be SIGKILLed mid-flight. Resolves when it is ready to start.
   */
  startService(orders: { orderId: string; customerId: string; amount: number; currency: string }[]): ServiceProcess {
    return startService({
      name: 'service',
      entry: 'bench/chaos/service.ts',
      env: {
        ...this.workerEnv,
        CHAOS_INTENTS_URL: this.intents.url,
        CHAOS_INTENTS_TABLE: this.intents.table,
        CHAOS_ORDERS: JSON.stringify(orders),
      },
      logFile: join(this.options.dir, 'service.log'),
      readyEvent: 'chaos.service.ready',
    });
  }

  /** What the service process (`startService`) answered before it died: order ID -> its answer. */
  serviceAnswers(): Map<string, { charge: ChargeOutcome; answeredBy: string }> {
    const answers = new Map<string, { charge: ChargeOutcome; answeredBy: string }>();
    let text = '';
    try {
      text = readFileSync(join(this.options.dir, 'service.log'), 'utf8');
    } catch {
      return answers;
    }
    for (const line of text.split('\n')) {
      try {
        const parsed = JSON.parse(line) as {
          event?: string;
          orderId?: string;
          charge?: ChargeOutcome;
          answeredBy?: string;
        };
        if (parsed.event === 'chaos.service.answer' && parsed.orderId && parsed.charge)
          answers.set(parsed.orderId, { charge: parsed.charge, answeredBy: parsed.answeredBy ?? '?' });
      } catch {
        // not JSON, or cut short by the kill
      }
    }
    return answers;
  }

  /** Resolves once `count` workers are ready (replacements included). */
  async workersReady(count = this.options.workers ?? 2): Promise<void> {
    for (let round = 0; round < 5; round++) {
      const live = this.liveWorkers();
      const ready = await Promise.all(live.map((w) => w.process.ready.then(() => true).catch(() => false)));
      if (ready.filter(Boolean).length >= count) return;
      if (this.liveWorkers().length < count) this.startWorker();
    }
    throw new Error(`fewer than ${count} workers could be started; see the worker logs in ${this.options.dir}`);
  }

  async killServer(): Promise<void> {
    await this.server.kill();
    this.note(`Temporal server kill -9 (port ${this.server.port})`);
  }

  async restartServer(): Promise<void> {
    const started = Date.now();
    await this.server.restart();
    this.note(`Temporal server restarted on the same port and SQLite file (answered in ${Date.now() - started} ms)`);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    for (const w of this.workers) w.intended = true;
    await Promise.all(this.workers.map((w) => w.process.stop(5_000)));
    await this.fastClient.close().catch(() => {});
    await this.recordedClient.close().catch(() => {});
    await dropBenchTable(this.intents.url, this.intents.table).catch(() => {});
    await this.fastEngine.control.close().catch(() => {});
    await this.fastEngine.engine.close().catch(() => {});
    await this.client.close().catch(() => {});
    await this.sandbox.stop();
    await this.server.stop();
  }
}
