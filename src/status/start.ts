import { readFileSync } from 'node:fs';
import { Client } from '@temporalio/client';
import { dataConverterFromConfig } from '../codec/data-converter';
import type { Config } from '../config/config';
import { integrations } from '../integrations';
import { createLogger } from '../observability/logger';
import { lazyClientConnection, temporalSettings } from '../temporal/connection';
import { startBulkResolve } from '../client/bulk-resolve';
import { startStatusServer, type BulkResolve } from './server';
import { collectStatus, type IncidentSource, type StatusReport } from './status';

/** The live status as `npm run status` and `npm run catalog` read it: Temporal from the usual variables, lazily. */
export function statusSource(
  config: Config,
  extra: { incidents?: IncidentSource } = {},
): { status: () => Promise<StatusReport>; uiUrl: string; client: Client; close(): Promise<void> } {
  const settings = temporalSettings(config);
  // Lazy: the first read connects; every read has its own deadline, so an unreachable Temporal costs seconds, not the page.
  const connection = lazyClientConnection(settings);
  const client = new Client({
    connection,
    namespace: config.TEMPORAL_NAMESPACE,
    dataConverter: dataConverterFromConfig(process.env),
  });
  const uiUrl = config.TEMPORAL_UI_URL ?? `http://127.0.0.1:${config.TEMPORAL_UI_PORT}`;
  return {
    uiUrl,
    client,
    status: () =>
      collectStatus({
        integrations: Object.values(integrations),
        client: () => Promise.resolve(client),
        namespace: config.TEMPORAL_NAMESPACE,
        address: settings.address,
        uiUrl,
        prometheusUrl: config.PROMETHEUS_URL,
        errorRateThreshold: config.STATUS_ERROR_RATE_THRESHOLD,
        incidents: extra.incidents,
      }),
    close: () => connection.close(),
  };
}

/**
 * The status process (`npm run status`, src/status/main.ts): the status page of every integration (src/status/server.ts), reading
 * Temporal (control workflows, visibility counts) and, with PROMETHEUS_URL, Prometheus. It starts while Temporal is
 * down: the page then says so.
 */
export async function startStatus(
  config: Config,
  extra: { bulkResolve?: BulkResolve; incidents?: IncidentSource } = {},
): Promise<{ url: string; close(): Promise<void> }> {
  const logger = createLogger({ name: 'status', level: config.LOG_LEVEL });
  const source = statusSource(config, extra);
  const server = await startStatusServer({
    host: config.STATUS_HOST,
    port: config.STATUS_PORT,
    logger,
    token: statusToken(config),
    // The durable bulk resolution (resolveParkedInBulk), unless the caller brings its own.
    bulkResolve:
      extra.bulkResolve ?? (async (request) => ({ workflowId: await startBulkResolve(source.client, request) })),
    ...(extra.incidents ? { incidents: extra.incidents } : {}),
    workflowUrl: (id) =>
      `${source.uiUrl}/namespaces/${encodeURIComponent(config.TEMPORAL_NAMESPACE)}/workflows/${encodeURIComponent(id)}`,
    status: source.status,
  });
  return {
    url: server.url,
    close: async () => {
      await server.close();
      await source.close();
    },
  };
}

/** STATUS_TOKEN_FILE wins over STATUS_TOKEN; read once at start. */
function statusToken(config: Config): string | undefined {
  if (config.STATUS_TOKEN_FILE) {
    let token: string;
    try {
      token = readFileSync(config.STATUS_TOKEN_FILE, 'utf8').trim();
    } catch (err) {
      throw new Error(
        `STATUS_TOKEN_FILE=${config.STATUS_TOKEN_FILE} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
      );
    }
    if (token.length < 16)
      throw new Error('STATUS_TOKEN_FILE holds fewer than 16 characters: use e.g. `openssl rand -hex 16`');
    return token;
  }
  return config.STATUS_TOKEN;
}
