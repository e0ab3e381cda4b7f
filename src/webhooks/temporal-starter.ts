import { createHash } from 'node:crypto';
import { SpanKind, SpanStatusCode, type Tracer } from '@opentelemetry/api';
import { Client, isGrpcServiceError, type Connection } from '@temporalio/client';
import { WorkflowExecutionAlreadyStartedError, type DataConverter } from '@temporalio/common';
import { lazyClientConnection, temporalSettingsFromEnv, type TemporalSettings } from '../temporal/connection';
import { tracingClientInterceptors } from '../temporal/tracing';
import type { processWebhookEvent, WebhookEventInput } from '../workflows/process-webhook-event.workflow';

export interface TemporalStarterOptions {
  /** host:port of the Temporal frontend. */
  address: string;
  /** @default default */
  namespace?: string;
  /** Where `processWebhookEvent` runs. */
  taskQueue: string;
  /**
   * Budget for one start, connecting included. Keep it under the sender's own timeout (seconds) so a
   * down Temporal becomes a 503 the sender retries, not a timeout it may count as delivered.
   * @default 3000 ms
   */
  startTimeoutMs?: number;
  /** Payload codecs (encryption): the event reaches the history encrypted like every other payload. */
  dataConverter?: DataConverter;
  /**
   * TLS, mTLS and API key. When omitted, read from the environment (`TEMPORAL_TLS_*`, `TEMPORAL_API_KEY(_FILE)`,
   * src/temporal/connection.ts); `null`: plaintext, no key. Certificate files are read at each (re)connect.
   */
  security?: Pick<TemporalSettings, 'tls' | 'apiKey' | 'apiKeyFile'> | null;
  /**
   * Tracing on: each start is a span (`webhook start`, with the provider, the event type and the outcome),
   * parent of the client's `StartWorkflow:processWebhookEvent`, whose context the workflow continues.
   * @default none
   */
  tracer?: Tracer;
}

export type StartOutcome =
  | { kind: 'started'; workflowId: string }
  | { kind: 'duplicate'; workflowId: string }
  /** Temporal unreachable or overloaded: the sender should retry later. */
  | { kind: 'unavailable'; workflowId: string; error: string }
  /** Temporal refused the start for a reason a retry will not fix (bad namespace, permissions...). */
  | { kind: 'failed'; workflowId: string; error: string };

const safeId = /^[\w.-]{1,128}$/;

/**
 * `webhook-<provider>-<eventId>`: the event ID *is* the deduplication key, kept by Temporal for the
 * namespace's retention after the workflow closes. An ID outside a safe charset or too long is hashed
 * (stable, collision-free in practice, and it keeps odd characters out of the UI and of queries).
 */
export function webhookWorkflowId(provider: string, eventId: string): string {
  const id = safeId.test(eventId) ? eventId : `sha256-${createHash('sha256').update(eventId).digest('hex')}`;
  return `webhook-${provider}-${id}`;
}

// Fail the request, not the process: these gRPC codes mean a retry will not help.
const permanentCodes = new Set([3 /* INVALID_ARGUMENT */, 5 /* NOT_FOUND */, 7 /* PERMISSION_DENIED */, 9, 12, 16]);

function grpcCode(err: unknown): number | undefined {
  for (let e = err; e instanceof Error; e = e.cause) {
    if (isGrpcServiceError(e)) return e.code;
  }
  return undefined;
}

/**
 * Starts `processWebhookEvent` with the event ID as workflow ID. Connects lazily and again after a failed
 * connect, so the receiver starts (and answers 503) while Temporal is down and recovers when it is back.
 */
export class TemporalStarter {
  private pending: Promise<{ connection: Connection; client: Client }> | null = null;
  private readonly startTimeoutMs: number;
  private readonly settings: TemporalSettings;

  constructor(private readonly options: TemporalStarterOptions) {
    this.startTimeoutMs = options.startTimeoutMs ?? 3000;
    const security = options.security === undefined ? temporalSettingsFromEnv(process.env) : (options.security ?? {});
    this.settings = {
      address: options.address,
      namespace: options.namespace ?? 'default',
      tls: security.tls,
      apiKey: security.apiKey,
      apiKeyFile: security.apiKeyFile,
    };
  }

  async start(event: WebhookEventInput): Promise<StartOutcome> {
    const tracer = this.options.tracer;
    if (!tracer) return this.startWorkflow(event);
    return tracer.startActiveSpan(
      'webhook start',
      { kind: SpanKind.SERVER, attributes: { 'webhook.provider': event.provider, 'webhook.event_type': event.type } },
      async (span) => {
        try {
          const outcome = await this.startWorkflow(event);
          span.setAttribute('webhook.outcome', outcome.kind);
          if (outcome.kind === 'unavailable' || outcome.kind === 'failed')
            span.setStatus({ code: SpanStatusCode.ERROR, message: outcome.kind });
          return outcome;
        } finally {
          span.end();
        }
      },
    );
  }

  private async startWorkflow(event: WebhookEventInput): Promise<StartOutcome> {
    const workflowId = webhookWorkflowId(event.provider, event.eventId);
    const deadline = Date.now() + this.startTimeoutMs;
    let target: { connection: Connection; client: Client };
    try {
      target = await this.connect(deadline);
    } catch (err) {
      return { kind: 'unavailable', workflowId, error: `cannot reach Temporal: ${(err as Error).message}` };
    }
    try {
      await target.connection.withDeadline(deadline, () =>
        target.client.workflow.start<typeof processWebhookEvent>('processWebhookEvent', {
          taskQueue: this.options.taskQueue,
          workflowId,
          args: [event],
          // Closed workflows are remembered for the namespace retention: it must exceed the sender's
          // redelivery horizon, or a very late redelivery would run the event a second time.
          workflowIdReusePolicy: 'REJECT_DUPLICATE',
          workflowIdConflictPolicy: 'FAIL',
          staticSummary: `${event.provider} ${event.type} ${event.eventId}`,
        }),
      );
      return { kind: 'started', workflowId };
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) return { kind: 'duplicate', workflowId };
      const code = grpcCode(err);
      const error = (err as Error).message;
      return code !== undefined && permanentCodes.has(code)
        ? { kind: 'failed', workflowId, error }
        : { kind: 'unavailable', workflowId, error };
    }
  }

  /** Readiness: Temporal answers a cheap call within `budgetMs` (connecting included). */
  async reachable(budgetMs = 1_500): Promise<boolean> {
    const deadline = Date.now() + budgetMs;
    try {
      const target = await this.connect(deadline);
      await target.connection.withDeadline(deadline, () => target.connection.workflowService.getSystemInfo({}));
      return true;
    } catch {
      return false;
    }
  }

  /** Concurrent requests share one connection attempt; a failed attempt is forgotten so the next retries. */
  private connect(deadline: number): Promise<{ connection: Connection; client: Client }> {
    this.pending ??= this.open(deadline).catch((err: unknown) => {
      this.pending = null;
      throw err;
    });
    return this.pending;
  }

  private async open(deadline: number): Promise<{ connection: Connection; client: Client }> {
    // Certificates are read here, at each (re)connect: a rotated client certificate is used from the next one.
    const connection = lazyClientConnection(this.settings, {
      connectTimeout: Math.max(1, deadline - Date.now()),
      // Reconnect quickly once Temporal is back (gRPC's default backoff grows to two minutes).
      channelArgs: { 'grpc.initial_reconnect_backoff_ms': 200, 'grpc.max_reconnect_backoff_ms': 2000 },
    });
    try {
      await connection.ensureConnected();
    } catch (err) {
      await connection.close().catch(() => undefined);
      throw err;
    }
    const { namespace = 'default', dataConverter } = this.options;
    const interceptors = tracingClientInterceptors(!!this.options.tracer);
    return { connection, client: new Client({ connection, namespace, dataConverter, interceptors }) };
  }

  async close(): Promise<void> {
    const pending = this.pending;
    this.pending = null;
    const target = await pending?.catch(() => null);
    await target?.connection.close();
  }
}
