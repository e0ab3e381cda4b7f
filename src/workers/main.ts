import { Client, type Connection } from '@temporalio/client';
import { dataConverterFromConfig } from '../codec/data-converter';
import { loadConfig } from '../config/config';
import { fileDropIntegrations, integrations, type FileDropIntegrationName } from '../integrations';
import { AdaptiveLimiter } from '../integrations/runtime/adaptive-limiter';
import { ControlPlane } from '../control/control-plane';
import { IntegrationEngine } from '../integrations/runtime/engine';
import { FileDriftStore } from '../integrations/runtime/drift-store';
import { MemoryFallbackCache, RedisFallbackCache } from '../integrations/runtime/fallback-cache';
import { createLogger, type Logger } from '../observability/logger';
import { WorkerMetrics } from '../observability/metrics';
import { startOpsServer } from '../observability/ops-server';
import { startTracing, tracingSettings } from '../observability/tracing';
import { tracingClientInterceptors } from '../temporal/tracing';
import {
  cliConnectionFlags,
  connectClient,
  connectWorker,
  describeSettings,
  temporalSettings,
} from '../temporal/connection';
import { startupCheck } from '../temporal/namespace-checks';
import { IntegrationName, ParkedAt, WorkflowStage } from '../contracts/search-attributes';
import { freeLoopbackAddress, installTemporalRuntime } from './runtime';
import type { Worker } from '@temporalio/worker';
import { ensureReportSchedules } from './report-schedules';
import { createWorkers, runWorkers } from './worker';
import { startProviderStatusWatchers } from './provider-status';

/** Worker process: serves the workflow queue and every integration's activity queue. */
async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger({ name: 'worker', level: config.LOG_LEVEL });
  // Core's Prometheus exporter on loopback only: /metrics on the operations port appends it to ours.
  const coreMetrics = await freeLoopbackAddress();
  installTemporalRuntime(logger, { prometheusBindAddress: coreMetrics });
  // Off unless TRACING_EXPORTER says where spans go: then workflow, activity and HTTP attempt spans.
  const tracing = startTracing(tracingSettings(config, 'durable-integrations-worker'));
  // Before connecting: a bad key stops the process at start-up, not on its first payload.
  const dataConverter = dataConverterFromConfig(process.env);
  // Address, namespace, TLS/mTLS and API key: one module (src/temporal/connection.ts) for every process.
  const settings = temporalSettings(config);
  const address = settings.address;
  // Live while the event loop answers; ready once every worker polls and Temporal answers (a Temporal
  // outage makes the worker not ready, never dead: restarting it would not bring Temporal back). Up
  // first, so a worker still bundling its workflows answers live and not ready.
  let workers: Worker[] = [];
  const reach: { connection?: Connection; client?: Client } = {};
  // Paces integrations that declare `traffic` and slows down when a provider rate-limits (AIMD).
  const limiter = new AdaptiveLimiter({ logger: logger.child({ component: 'traffic' }) });
  const metrics = new WorkerMetrics({
    integrations: Object.values(integrations),
    limiter,
    coreMetricsUrl: `http://${coreMetrics}/metrics`,
    countParked: async (integration) => {
      if (!reach.client) throw new Error('not connected yet');
      return (await reach.client.workflow.count(parkedQuery(integration))).count;
    },
    countParkedBefore: async (integration, parkedBefore) => {
      if (!reach.client) throw new Error('not connected yet');
      const query = `${parkedQuery(integration)} AND ${ParkedAt.name} < '${parkedBefore.toISOString()}'`;
      return (await reach.client.workflow.count(query)).count;
    },
  });
  const ops = await startOpsServer({
    name: 'worker',
    host: config.OPS_HOST,
    port: config.WORKER_OPS_PORT,
    logger,
    checks: [
      { name: 'polling', check: () => workers.length > 0 && workers.every((w) => w.getState() === 'RUNNING') },
      {
        name: 'temporal',
        check: async () => {
          const probe = reach.connection;
          if (!probe) return false;
          await probe.withDeadline(Date.now() + 1_500, () => probe.workflowService.getSystemInfo({}));
          return true;
        },
      },
    ],
    routes: (app) => {
      app.get('/metrics', async (_request, reply) => reply.type(metrics.contentType).send(await metrics.scrape()));
    },
  });
  // Both connections at once: neither needs the other.
  const [connection, clientConnection] = await Promise.all([
    connectWorker(settings),
    // Circuit breakers and kill switches live in Temporal; reading them needs a client connection.
    connectClient(settings),
  ]);
  reach.connection = clientConnection;
  reach.client = new Client({
    connection: clientConnection,
    namespace: config.TEMPORAL_NAMESPACE,
    dataConverter,
    // The control plane's signals and updates, sent from inside an activity, join its trace.
    interceptors: tracingClientInterceptors(!!tracing),
  });
  const client = reach.client;
  const control = new ControlPlane({
    client,
    logger: logger.child({ component: 'control' }),
    metrics: metrics.calls,
  });
  // Fallbacks of user-flow reads: per worker in memory, or shared in Redis when FALLBACK_REDIS_URL is set.
  const fallbackCache = config.FALLBACK_REDIS_URL
    ? new RedisFallbackCache({ url: config.FALLBACK_REDIS_URL, logger: logger.child({ component: 'fallback-cache' }) })
    : new MemoryFallbackCache();
  const runtime = new IntegrationEngine({
    logger: logger.child({ component: 'integration' }),
    control,
    limiter,
    fallbackCache,
    metrics: metrics.calls,
    // Samples of drifting answers, redacted, in a bounded directory (npm run drift).
    driftSamples:
      config.DRIFT_SAMPLES === 'true'
        ? new FileDriftStore({ dir: config.DRIFT_SAMPLES_DIR, perEndpoint: config.DRIFT_SAMPLES_PER_ENDPOINT })
        : undefined,
    tracer: tracing?.tracer,
  });
  // File drops (SFTP) whose server is configured; the others' queues are left to workers that can reach one.
  const fileDropNames = (Object.keys(fileDropIntegrations) as FileDropIntegrationName[]).filter(
    (name) => !!process.env[fileDropIntegrations[name].transport.host.name],
  );
  // Loaded only then: the SSH client is not part of every worker's start.
  const fileDrops =
    fileDropNames.length > 0
      ? new (await import('../integrations/runtime/sftp/engine')).FileDropEngine({
          logger: logger.child({ component: 'file-drop' }),
        })
      : undefined;
  // The namespace has what the workflows need (search attributes, retention): else stop now, saying how to
  // fix it. It gates polling, not Worker.create (the workflow thread loading the bundle, ~0.3 s), which
  // runs meanwhile: no worker polls before the check passed, and a failed check exits before any does.
  const namespaceReady = startupCheck(clientConnection, config, cliConnectionFlags(settings)).then(async (checked) => {
    logger.info(
      { event: 'temporal.check', namespace: settings.namespace, checked },
      `connected to ${address} (${describeSettings(settings)})`,
    );
    control.prefetch(Object.values(integrations));
    // Providers' status pages, read in the background (never as a check before calls).
    return startProviderStatusWatchers(client, Object.values(integrations), logger);
  });
  const [creating, checking] = await Promise.allSettled([
    createWorkers({
      connection,
      namespace: config.TEMPORAL_NAMESPACE,
      runtime,
      dataConverter,
      ...(config.WORKER_MAX_CACHED_WORKFLOWS ? { maxCachedWorkflows: config.WORKER_MAX_CACHED_WORKFLOWS } : {}),
      // The 4xx report's activity; without PROMETHEUS_URL its reports say no metrics source is configured.
      reports: { prometheusUrl: config.PROMETHEUS_URL },
      tracing,
      ...(fileDrops ? { fileDrops, fileDropIntegrations: fileDropNames } : {}),
    }),
    namespaceReady,
  ]);
  // The check's error says how to fix it: it wins over Worker.create's own (a missing namespace fails both).
  if (checking.status === 'rejected') throw checking.reason;
  if (creating.status === 'rejected') throw creating.reason;
  const watched = checking.value;
  workers = creating.value;
  const stop = () => workers.forEach((w) => w.getState() === 'RUNNING' && w.shutdown());
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  const running = runWorkers(workers);
  logger.info(
    {
      event: 'worker.ready',
      address,
      taskQueues: workers.map((w) => w.options.taskQueue),
      payloadEncryption: dataConverter ? 'aes-256-gcm' : 'off',
      statusPagesWatched: watched,
      metricsSource: config.PROMETHEUS_URL ? 'prometheus' : 'none',
      tracing: config.TRACING_EXPORTER,
      health: ops.url,
      metrics: `${ops.url}/metrics`,
    },
    'worker ready',
  );
  // Off the path to polling, since neither gates work (nor /readyz): the integrations' start-up checks
  // (a failure is reported loudly, calls retry on their own budgets) and the 4xx report's Schedules (a
  // failure is logged, never a reason not to serve calls).
  const startupTasks = Promise.all([
    checkIntegrations(logger),
    config.REPORT_SCHEDULES === 'true' ? ensureSchedules(client, logger) : undefined,
  ]).then(() => logger.info({ event: 'worker.checked' }, 'start-up checks done (integrations, report schedules)'));
  await running;
  await startupTasks;
  await ops.close();
  await control.close();
  await runtime.close();
  await fallbackCache.close();
  await clientConnection.close();
  await connection.close();
  await tracing?.shutdown();
  logger.info({ event: 'worker.stopped' }, 'worker stopped');
}

/** Running workflows parked for an operator on one integration (set by src/workflows/patterns/park.ts). */
function parkedQuery(integration: string): string {
  return `${WorkflowStage.name} = 'parked' AND ${IntegrationName.name} = '${integration}' AND ExecutionStatus = 'Running'`;
}

/**
 * The start-up check: each integration's hello endpoint, once, all at once. A failure is reported loudly
 * but does not stop the worker: the provider may come back, and calls retry on their own budgets. Its own
 * engine: the check is itself a probe, it bypasses the breaker (whose workflow this very process hosts)
 * and the limiter, so it answers at once. Never rejects.
 */
async function checkIntegrations(logger: Logger): Promise<void> {
  const checker = new IntegrationEngine({ logger: logger.child({ component: 'integration' }) });
  await Promise.all(
    Object.values(integrations).map(async (integration) => {
      const { ok, message } = await checker.hello(integration).catch((err: unknown) => ({
        ok: false,
        message: (err as Error).message,
      }));
      if (ok) logger.info({ event: 'integration.check', integration: integration.name, ok }, message);
      else
        logger.error(
          { event: 'integration.check', integration: integration.name, ok },
          `start-up check failed: ${message}`,
        );
    }),
  );
  await checker.close().catch(() => undefined);
}

/** The 4xx report's Schedules (idempotent): a failure is logged, never a reason not to serve calls. */
async function ensureSchedules(client: Client, logger: Logger): Promise<void> {
  await ensureReportSchedules(client).then(
    (schedules) => logger.info({ event: 'report.schedules', schedules }, 'report schedules in place'),
    (err: unknown) =>
      logger.error(
        { event: 'report.schedules', error: (err as Error).message },
        'could not create the report schedules: run `npm run schedules`',
      ),
  );
}

main().catch((err: unknown) => {
  // The logger may not exist yet (bad config): stderr is the one place that always works.
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
