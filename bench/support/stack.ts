/**
 * The real parts the user-flow and background benchmarks share: the provider sandbox (in-process HTTP), a
 * Temporal dev server, and the project's workers (src/workers/worker.ts: the workflow queue and every
 * integration queue) with a real IntegrationEngine, all in this process, as a co-located deployment.
 */
import { NativeConnection, bundleWorkflowCode, type Worker } from '@temporalio/worker';
import { IntegrationsClient } from '../../src/client';
import { devCredentials } from '../../src/devserver/dev-credentials';
import { startDevServer, type DevServer } from '../../src/devserver/dev-server';
import { IntegrationEngine } from '../../src/integrations/runtime/engine';
import { createLogger } from '../../src/observability/logger';
import { SandboxAdminClient } from '../../src/sandbox/admin-client';
import { startSandbox } from '../../src/sandbox/server';
import { installTemporalRuntime } from '../../src/workers/runtime';
import { createWorkers, runWorkers, workflowsPath } from '../../src/workers/worker';
import { quietBundlerLogger } from '../../test/support/stack';
import { sandboxCredentialsOf } from '../../src/sandbox/credentials';

export interface BenchStack {
  sandboxUrl: string;
  admin: SandboxAdminClient;
  devServer: DevServer;
  client: IntegrationsClient;
  engine: IntegrationEngine;
  env: NodeJS.ProcessEnv;
  credentials: ReturnType<typeof devCredentials>;
  workers: Worker[];
  /** The workers' own connection (a client on it can request eager workflow start). */
  connection: NativeConnection;
  stop(): Promise<void>;
}

export async function startBenchStack(): Promise<BenchStack> {
  const logger = createLogger({ name: 'bench', level: 'error' });
  installTemporalRuntime(logger);
  const credentials = devCredentials();
  const sandbox = await startSandbox({
    credentials: sandboxCredentialsOf((variable) => credentials.sandboxEnv[variable]),
  });
  const env = { ...process.env, NODE_ENV: 'development', ...credentials.integrationEnv(sandbox.url) };
  const [devServer, bundle] = await Promise.all([
    startDevServer(),
    bundleWorkflowCode({ workflowsPath, logger: quietBundlerLogger }),
  ]);
  const connection = await NativeConnection.connect({ address: devServer.address });
  const engine = new IntegrationEngine({ logger: logger.child({ component: 'integration' }), env });
  const workers = await createWorkers({
    connection,
    namespace: 'default',
    runtime: engine,
    workflowBundle: { code: bundle.code },
    shutdownGraceTime: '1 second',
  });
  const running = runWorkers(workers);
  const client = await IntegrationsClient.connect({ address: devServer.address, dataConverter: null, security: null });
  return {
    sandboxUrl: sandbox.url,
    admin: new SandboxAdminClient(sandbox.url),
    devServer,
    client,
    engine,
    env,
    credentials,
    workers,
    connection,
    async stop() {
      for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
      await running.catch(() => undefined);
      await client.close();
      await engine.close();
      await connection.close();
      await devServer.stop();
      await sandbox.close();
    },
  };
}
