/**
 * The user flow as it is deployed: every part its own process. The provider sandbox (src/sandbox/main.ts)
 * and the workers (src/workers/main.ts, as production runs them) are child processes, the Temporal dev server
 * is the CLI's own; this process holds only the service side: an IntegrationsClient, and one with
 * `directCalls` on the service's OWN IntegrationEngine (built as a worker builds its own: the same control
 * plane, prefetched, the same env and credentials), as the README's `directCalls` docs say to build it.
 */
import { join } from 'node:path';
import pino from 'pino';
import { IntegrationsClient } from '../../src/client';
import { OrderIntents } from '../../src/client/order-intents';
import { ControlPlane } from '../../src/control/control-plane';
import { devCredentials } from '../../src/devserver/dev-credentials';
import { startDevServer, type DevServer } from '../../src/devserver/dev-server';
import { startService, type ServiceProcess } from '../../src/devserver/service-process';
import { payments } from '../../src/integrations/payments/payments.integration';
import { IntegrationEngine } from '../../src/integrations/runtime/engine';
import { createLogger } from '../../src/observability/logger';
import { SandboxAdminClient } from '../../src/sandbox/admin-client';
import { installTemporalRuntime } from '../../src/workers/runtime';

export interface SplitStack {
  sandboxUrl: string;
  admin: SandboxAdminClient;
  devServer: DevServer;
  credentials: ReturnType<typeof devCredentials>;
  /** `startOrder` without the fast path. */
  client: IntegrationsClient;
  /** `startOrder` with `directCalls: engine`. */
  fastClient: IntegrationsClient;
  /** `startOrder` with `directCalls: engine` and `orderIntents` (when `orderIntents` was given). */
  recordedClient?: IntegrationsClient;
  /** The service's own engine (this process). */
  engine: IntegrationEngine;
  /** Each worker process's operations URL (`/metrics` has its event-loop lag). */
  workerOps: string[];
  stop(): Promise<void>;
}

export async function startSplitStack(options: {
  dir: string;
  workers?: number;
  /** Wraps the service's engine before the fast client gets it (the benchmark times its calls). */
  wrapEngine?: (engine: IntegrationEngine) => IntegrationEngine;
  /** The order record's PostgreSQL URL and table, for `recordedClient`. */
  orderIntents?: { url: string; table: string };
}): Promise<SplitStack> {
  const logger = createLogger({
    name: 'bench-service',
    level: 'warn',
    destination: pino.destination({ dest: join(options.dir, 'service.log'), sync: false, mkdir: true }),
  });
  installTemporalRuntime(logger);
  const credentials = devCredentials();
  const started: ServiceProcess[] = [];
  let devServer: DevServer | undefined;
  const closers: (() => Promise<unknown>)[] = [];
  try {
    const sandbox = startService({
      name: 'sandbox',
      entry: 'src/sandbox/main.ts',
      env: { ...process.env, SANDBOX_PORT: '0', ...credentials.sandboxEnv },
      logFile: join(options.dir, 'sandbox.log'),
      readyEvent: 'sandbox.listening',
    });
    started.push(sandbox);
    const [ready, server] = await Promise.all([sandbox.ready, startDevServer()]);
    devServer = server;
    const sandboxUrl = String(ready.url);
    const integrationEnv = credentials.integrationEnv(sandboxUrl);
    const workers = Array.from({ length: options.workers ?? 1 }, (_, i) =>
      startService({
        name: `worker-${i + 1}`,
        entry: 'src/workers/main.ts',
        env: {
          ...process.env,
          NODE_ENV: 'development',
          TEMPORAL_ADDRESS: server.address,
          LOG_LEVEL: 'info',
          WORKER_OPS_PORT: '0',
          ...integrationEnv,
        },
        logFile: join(options.dir, `worker-${i + 1}.log`),
        readyEvent: 'worker.ready',
        readyTimeoutMs: 240_000,
      }),
    );
    started.push(...workers);
    const readyLines = await Promise.all(workers.map((w) => w.ready));
    const connect = { address: server.address, dataConverter: null, security: null } as const;
    const client = await IntegrationsClient.connect(connect);
    closers.push(() => client.close());
    const control = new ControlPlane({ client: client.temporal, logger: logger.child({ component: 'control' }) });
    closers.push(() => control.close());
    control.prefetch([payments]);
    const engine = new IntegrationEngine({
      logger: logger.child({ component: 'integration' }),
      control,
      env: { ...process.env, NODE_ENV: 'development', ...integrationEnv },
    });
    closers.push(() => engine.close());
    const fastClient = await IntegrationsClient.connect({
      ...connect,
      directCalls: options.wrapEngine ? options.wrapEngine(engine) : engine,
    });
    closers.push(() => fastClient.close());
    const recordedClient = options.orderIntents
      ? await IntegrationsClient.connect({
          ...connect,
          directCalls: options.wrapEngine ? options.wrapEngine(engine) : engine,
          orderIntents: new OrderIntents({ ...options.orderIntents, logger: logger.child({ component: 'intents' }) }),
        })
      : undefined;
    if (recordedClient) closers.push(() => recordedClient.close());
    const stop = async () => {
      for (const close of closers.reverse()) await close().catch(() => undefined);
      await Promise.all(started.map((p) => p.stop(5_000)));
      await devServer?.stop();
    };
    return {
      sandboxUrl,
      admin: new SandboxAdminClient(sandboxUrl),
      devServer: server,
      credentials,
      client,
      fastClient,
      recordedClient,
      engine,
      workerOps: readyLines.map((l) => String(l.health)),
      stop,
    };
  } catch (err) {
    for (const close of closers.reverse()) await close().catch(() => undefined);
    await Promise.all(started.map((p) => p.stop(5_000)));
    await devServer?.stop();
    throw err;
  }
}
