import { NativeConnection } from '@temporalio/worker';
import { loadConfig } from '../config/config';
import { integrations } from '../integrations';
import { IntegrationRuntime } from '../integrations/runtime/engine';
import { createLogger, type Logger } from '../observability/logger';
import { installTemporalRuntime } from './runtime';
import { createWorkers, runWorkers } from './worker';

/** Worker process: serves the workflow queue and every integration's activity queue. */
async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger({ name: 'worker', level: config.LOG_LEVEL });
  installTemporalRuntime(logger);
  const address = config.TEMPORAL_ADDRESS ?? `127.0.0.1:${config.TEMPORAL_DEV_PORT}`;
  const connection = await NativeConnection.connect({ address }).catch((err: Error) => {
    throw new Error(
      `Cannot reach Temporal at ${address} (${err.message}). Start it (npm start) or set TEMPORAL_ADDRESS.`,
    );
  });
  const runtime = new IntegrationRuntime({ logger: logger.child({ component: 'integration' }) });
  await checkIntegrations(runtime, logger);
  const workers = await createWorkers({ connection, namespace: config.TEMPORAL_NAMESPACE, runtime });
  const stop = () => workers.forEach((w) => w.getState() === 'RUNNING' && w.shutdown());
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  logger.info({ event: 'worker.ready', address, taskQueues: workers.map((w) => w.options.taskQueue) }, 'worker ready');
  await runWorkers(workers);
  await runtime.close();
  await connection.close();
  logger.info({ event: 'worker.stopped' }, 'worker stopped');
}

/**
 * The start-up check: each integration's hello endpoint, once. A failure is reported loudly but does
 * not stop the worker: the provider may come back, and calls retry on their own budgets.
 */
async function checkIntegrations(runtime: IntegrationRuntime, logger: Logger): Promise<void> {
  for (const integration of Object.values(integrations)) {
    const { ok, message } = await runtime.hello(integration);
    if (ok) logger.info({ event: 'integration.check', integration: integration.name, ok }, message);
    else
      logger.error(
        { event: 'integration.check', integration: integration.name, ok },
        `start-up check failed: ${message}`,
      );
  }
}

main().catch((err: unknown) => {
  // The logger may not exist yet (bad config): stderr is the one place that always works.
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
