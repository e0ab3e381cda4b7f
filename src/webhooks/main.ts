import type { DataConverter } from '@temporalio/common';
import { runServer } from '../process/lifecycle';
import { dataConverterFromConfig } from '../codec/data-converter';
import { loadConfig } from '../config/config';
import { createLogger, type Logger } from '../observability/logger';
import { startTracing, tracingSettings } from '../observability/tracing';
import { cliConnectionFlags, connectClient, temporalSettings, type TemporalSettings } from '../temporal/connection';
import { NamespaceCheckError, startupCheck } from '../temporal/namespace-checks';
import { documentsWebhooks } from './providers';
import { secretList } from './secrets';
import { WebhookOutbox, type EventOutbox } from './outbox';
import { startReceiver } from './server';

/**
 * Process entry: `node --import tsx src/webhooks/main.ts`. Prints one JSON line on stdout once
 * listening (`receiver.listening`); SIGTERM/SIGINT finish in-flight requests, then exit.
 */
async function main(): Promise<{ close(): Promise<void> }> {
  const config = loadConfig();
  const logger = createLogger({ name: 'webhooks', level: config.LOG_LEVEL });
  // Off unless TRACING_EXPORTER is set: then each workflow start is a span the workflow's trace hangs under.
  const tracing = startTracing(tracingSettings(config, 'durable-integrations-webhooks'));
  // Address, namespace, TLS/mTLS and API key: src/temporal/connection.ts (the starter reads the same variables).
  const settings = temporalSettings(config);
  const address = settings.address;
  await checkNamespaceAtStart(settings, config, logger);
  const secrets = secretList({
    name: 'WEBHOOK_DOCUMENTS_SECRETS',
    value: config.WEBHOOK_DOCUMENTS_SECRETS,
    file: config.WEBHOOK_DOCUMENTS_SECRETS_FILE,
  });
  if (secrets().length === 0) {
    throw new Error('WEBHOOK_DOCUMENTS_SECRETS (or WEBHOOK_DOCUMENTS_SECRETS_FILE) is not set: see .env.example');
  }
  const dataConverter = dataConverterFromConfig(process.env);
  // The outbox stores each event through the same codecs as the histories: encrypted when they are.
  const outbox = await outboxFrom(config, dataConverter, logger.child({ component: 'outbox' }));
  await outbox?.ensureSchema();
  const receiver = await startReceiver({
    host: config.WEBHOOK_HOST,
    port: config.WEBHOOK_PORT,
    providers: [
      {
        definition: documentsWebhooks,
        secrets,
        requireSignedTimestamp: config.WEBHOOK_DOCUMENTS_REQUIRE_SIGNED_TIMESTAMP === 'true',
        allowFrom: list(config.WEBHOOK_DOCUMENTS_ALLOW_FROM),
      },
    ],
    trustedProxies: list(config.WEBHOOK_TRUSTED_PROXIES),
    temporal: {
      address,
      namespace: config.TEMPORAL_NAMESPACE,
      startTimeoutMs: config.WEBHOOK_START_TIMEOUT_MS,
      dataConverter,
      tracer: tracing?.tracer,
    },
    limits: {
      maxBodyBytes: config.WEBHOOK_MAX_BODY_BYTES,
      headersTimeoutMs: config.WEBHOOK_HEADERS_TIMEOUT_MS,
      requestTimeoutMs: config.WEBHOOK_REQUEST_TIMEOUT_MS,
      toleranceSeconds: config.WEBHOOK_TOLERANCE_SECONDS,
      keepAliveTimeoutMs: config.WEBHOOK_KEEPALIVE_TIMEOUT_MS,
      maxHeaderBytes: config.WEBHOOK_MAX_HEADER_BYTES,
      maxConnections: config.WEBHOOK_MAX_CONNECTIONS,
    },
    // Statistics and health on a private port only (never on the public one).
    ops: { host: config.OPS_HOST, port: config.WEBHOOK_OPS_PORT },
    retryAfterSeconds: config.WEBHOOK_RETRY_AFTER_SECONDS,
    outbox,
    logger,
  });
  process.stdout.write(
    `${JSON.stringify({ event: 'receiver.listening', url: receiver.url, opsUrl: receiver.opsUrl, metricsUrl: receiver.metricsUrl })}\n`,
  );
  // Temporal is connected on the first webhook: the receiver is up (and answers 503) even while it is down.
  logger.info(
    {
      event: 'receiver.ready',
      url: receiver.url,
      opsUrl: receiver.opsUrl,
      metricsUrl: receiver.metricsUrl,
      temporal: address,
    },
    `webhook receiver listening; statistics at ${receiver.opsUrl}/stats, metrics at ${receiver.metricsUrl}`,
  );

  return {
    close: async () => {
      await receiver.close();
      await tracing?.shutdown();
    },
  };
}

/** The outbox `WEBHOOK_OUTBOX_URL` names, by its scheme; none when unset. BullMQ is loaded only for `redis://`. */
async function outboxFrom(
  config: ReturnType<typeof loadConfig>,
  dataConverter: DataConverter | undefined,
  logger: Logger,
): Promise<EventOutbox | undefined> {
  const url = config.WEBHOOK_OUTBOX_URL;
  if (!url) return undefined;
  if (!/^rediss?:/.test(url)) return new WebhookOutbox({ url, dataConverter, logger });
  const { RedisWebhookOutbox } = await import('./redis-outbox');
  return new RedisWebhookOutbox({
    url,
    prefix: config.WEBHOOK_OUTBOX_PREFIX,
    relayMaxDeferMs: config.WEBHOOK_OUTBOX_RELAY_MAX_DEFER_MS,
    dataConverter,
    logger,
  });
}

/** A comma-separated list, empty entries dropped. */
function list(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/**
 * The namespace's search attributes and retention (deduplication lasts as long as the retention), checked
 * once at start when Temporal answers: a failure stops the receiver with the command that fixes it. Temporal
 * being down is no reason not to start (the receiver answers 503 until it is back): the check is then skipped.
 */
async function checkNamespaceAtStart(
  settings: TemporalSettings,
  config: ReturnType<typeof loadConfig>,
  logger: Logger,
): Promise<void> {
  if (config.TEMPORAL_STARTUP_CHECKS === 'false') return;
  let connection;
  try {
    connection = await connectClient(settings, { connectTimeout: config.WEBHOOK_START_TIMEOUT_MS });
  } catch (err) {
    logger.warn({ event: 'temporal.check', checked: false }, `start-up check skipped: ${(err as Error).message}`);
    return;
  }
  try {
    await startupCheck(connection, config, cliConnectionFlags(settings));
    logger.info({ event: 'temporal.check', namespace: settings.namespace, checked: true }, 'namespace checked');
  } catch (err) {
    if (err instanceof NamespaceCheckError) throw err;
    logger.warn({ event: 'temporal.check', checked: false }, `start-up check skipped: ${(err as Error).message}`);
  } finally {
    await connection.close();
  }
}

runServer('Webhook receiver', main);
