import type { FastifyReply, FastifyRequest } from 'fastify';
import {
  addressList,
  createEdgeServer,
  EdgeRejection,
  listenEdge,
  parseJsonSafely,
  peerAddress,
} from '../http/edge-server';
import type { Logger } from '../observability/logger';
import { metricsRoute, processRegistry, webhookMetrics } from '../observability/metrics';
import { startOpsServer, type OpsServer } from '../observability/ops-server';
import { WORKFLOWS_TASK_QUEUE } from '../contracts/task-queues';
import type { WebhookEventInput } from '../workflows/process-webhook-event.workflow';
import type { WebhookProviderDefinition } from './providers';
import type { SecretList } from './secrets';
import { ReceiverStats, type ReceiverStatsSnapshot } from './stats';
import type { EventOutbox } from './outbox';
import { TemporalStarter, webhookWorkflowId, type StartOutcome, type TemporalStarterOptions } from './temporal-starter';
import { checkTimestamp, StandardWebhooksVerifier, verifyHexHmac } from './verify';

export interface ReceiverProvider {
  definition: WebhookProviderDefinition;
  /** Every secret currently valid for this provider (several during a rotation). Secret: never logged. */
  secrets: SecretList | readonly string[];
  /**
   * Refuse deliveries that do not carry the Standard Webhooks signature, the scheme that signs the
   * timestamp (401 `signed_timestamp_required`). Without it, a captured delivery can be replayed with its
   * Standard Webhooks headers stripped and a fresh (unsigned) timestamp: only deduplication stops it.
   * @default false
   */
  requireSignedTimestamp?: boolean;
  /**
   * Source addresses (IPs, CIDRs) this provider delivers from; any other gets 403 `source_not_allowed`.
   * Behind a proxy, the address is taken from `X-Forwarded-For` only when the peer is one of
   * {@link ReceiverOptions.trustedProxies}. @default any address
   */
  allowFrom?: readonly string[];
}

export interface ReceiverLimits {
  /** Larger bodies get 413, chunked ones included: reading stops at the cap. @default 65536 bytes */
  maxBodyBytes?: number;
  /** Time a client has to send its request headers (slowloris is cut with 408). @default 5000 ms */
  headersTimeoutMs?: number;
  /** Time a client has to send its whole request (slow bodies are cut off with 408). @default 10000 ms */
  requestTimeoutMs?: number;
  /** An idle keep-alive connection is closed after this. @default 5000 ms */
  keepAliveTimeoutMs?: number;
  /** Larger request heads get 431. @default 16384 bytes */
  maxHeaderBytes?: number;
  /** Open connections at most; further ones are dropped at once. @default 1024 */
  maxConnections?: number;
  /** Accepted clock skew of `webhook-timestamp`, both directions, both schemes. @default 300 seconds */
  toleranceSeconds?: number;
}

export interface ReceiverOptions {
  /** 0 picks a free port. @default 0 */
  port?: number;
  /** @default 127.0.0.1 */
  host?: string;
  providers: ReceiverProvider[];
  /** Proxies (IPs, CIDRs) whose `X-Forwarded-For` is believed for allow-lists. @default none */
  trustedProxies?: readonly string[];
  temporal: {
    /** host:port; the receiver starts (and answers 503) even when nothing listens there yet. */
    address: string;
    /** @default default */
    namespace?: string;
    /** Queue of the workers that run `processWebhookEvent`. @default WORKFLOWS_TASK_QUEUE */
    taskQueue?: string;
    /** Budget for one workflow start, connecting included. @default 3000 ms */
    startTimeoutMs?: number;
    /** Payload codecs (encryption), the same as the workers'. @default none (plain payloads) */
    dataConverter?: TemporalStarterOptions['dataConverter'];
    /** Tracing on: each start a span, its context sent to the workflow. @default none */
    tracer?: TemporalStarterOptions['tracer'];
  };
  limits?: ReceiverLimits;
  /**
   * The operations port (`/livez`, `/readyz`: Temporal reachable and secrets loaded, `/stats`, and
   * Prometheus's `/metrics`), apart from the public one. @default none (tests and benchmarks read
   * {@link Receiver.stats})
   */
  ops?: { host: string; port: number };
  /** Node's process metrics (`process_*`, `nodejs_*`) in `/metrics`, besides the webhook ones. @default true */
  processMetrics?: boolean;
  /** `Retry-After` of a 503. @default 5 seconds */
  retryAfterSeconds?: number;
  /** Passed to `processWebhookEvent`: how long it waits for a workflow to signal. @default its own (5 x 2 s) */
  waiter?: WebhookEventInput['waiter'];
  logger: Logger;
  /** Clock for the timestamp window (tests). @default Date.now */
  now?: () => number;
  /**
   * Benchmark baseline only: answer 200 right after verification and validation, start nothing.
   * Loses events by design; never in production. @default false
   */
  verifyOnly?: boolean;
  /**
   * Acknowledge once the event is stored in this local outbox (a PostgreSQL INSERT, or a BullMQ job in
   * Redis) instead of once Temporal accepted its start; the receiver runs the outbox's relay into Temporal
   * and closes it. See src/webhooks/outbox.ts and redis-outbox.ts. @default none (the start is in the request)
   */
  outbox?: EventOutbox;
  /**
   * Benchmark baselines only: the verified event is handed to this (e.g. a job queue's enqueue) instead of
   * Temporal, after the same checks. @default none
   */
  handOff?: (event: WebhookEventInput, workflowId: string) => Promise<StartOutcome>;
}

export interface Receiver {
  /** e.g. `http://127.0.0.1:54321` */
  url: string;
  /** The operations port's URL, when {@link ReceiverOptions.ops} was given. */
  opsUrl?: string;
  /** Prometheus's scrape URL (`<opsUrl>/metrics`), when {@link ReceiverOptions.ops} was given. */
  metricsUrl?: string;
  stats(): ReceiverStatsSnapshot;
  close(): Promise<void>;
}

function headerValue(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

/** `application/json`, optionally with `charset=utf-8`; anything else is 415. */
function isJson(contentType: string | undefined): boolean {
  if (contentType === undefined) return false;
  const [type, ...params] = contentType.split(';').map((p) => p.trim().toLowerCase());
  if (type !== 'application/json') return false;
  return params.every((p) => !p.startsWith('charset=') || p === 'charset=utf-8' || p === 'charset="utf-8"');
}

// Exact bytes: no lossy replacement characters, and a BOM stays part of what was signed.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

const reject = (status: number, reason: string, detail?: string, headers: Record<string, string> = {}) =>
  new EdgeRejection(status, reason, detail, headers);

/** What each refusal tells the sender to do (never a secret, a signature or the body). */
const details: Readonly<Record<string, string>> = {
  missing_signature: 'sign the request (webhook-signature or the provider header)',
  missing_webhook_id: 'send webhook-id with webhook-signature',
  missing_timestamp: 'send webhook-timestamp (seconds since the epoch)',
  invalid_timestamp: 'webhook-timestamp must be whole seconds since the epoch',
  timestamp_too_old: 'webhook-timestamp is outside the accepted window: check the sender clock',
  timestamp_too_new: 'webhook-timestamp is outside the accepted window: check the sender clock',
  unsupported_signature_version: 'sign with v1',
  signature_mismatch: 'the signature does not match the body with any current secret',
};

interface Route {
  definition: WebhookProviderDefinition;
  secrets: SecretList;
  standard: StandardWebhooksVerifier;
  requireSignedTimestamp: boolean;
  allowFrom: { has(ip: string): boolean } | null;
}

/** What the checks before the body found, for the handler. */
interface Admitted {
  route: Route;
  timestamp: string;
  present: WebhookProviderDefinition['schemes'];
}
const admitted = new WeakMap<FastifyRequest, Admitted>();

/** How a request was settled, counted once its answer is sent. */
type Settled = { kind: 'accepted' | 'duplicate' | 'verified' } | { kind: 'rejected'; reason: string };

/** The label of a request that names no configured provider. */
const unknownProvider = 'unknown';

/**
 * The webhook receiver: verify on the raw bytes, validate, hand the event to Temporal, acknowledge.
 * A 2xx means Temporal durably accepted the workflow start (or already had it); anything else makes
 * the sender retry. No processing happens in the request.
 */
export async function startReceiver(options: ReceiverOptions): Promise<Receiver> {
  const { logger } = options;
  const now = options.now ?? Date.now;
  const maxBodyBytes = options.limits?.maxBodyBytes ?? 64 * 1024;
  const toleranceSeconds = options.limits?.toleranceSeconds ?? 300;
  const retryAfter = String(options.retryAfterSeconds ?? 5);

  // A Map: a provider segment such as `constructor` or `__proto__` is just an unknown provider.
  const providers = new Map<string, Route>(
    options.providers.map((p) => {
      const secrets = typeof p.secrets === 'function' ? p.secrets : () => p.secrets as readonly string[];
      const standard = new StandardWebhooksVerifier(p.definition.name);
      // Fail at start-up, naming the provider, rather than on the first webhook.
      const initial = secrets();
      if (initial.length === 0) throw new Error(`no webhook secret configured for provider ${p.definition.name}`);
      standard.prepare(initial);
      const requireSignedTimestamp = p.requireSignedTimestamp ?? false;
      if (requireSignedTimestamp && !p.definition.schemes.some((s) => s.kind === 'standard-webhooks')) {
        throw new Error(`provider ${p.definition.name} has no scheme that signs the timestamp to require`);
      }
      const allowFrom = p.allowFrom?.length ? addressList(p.allowFrom, `allow-list of ${p.definition.name}`) : null;
      return [p.definition.name, { definition: p.definition, secrets, standard, requireSignedTimestamp, allowFrom }];
    }),
  );
  const stats = new ReceiverStats();
  // Prometheus: one registry per receiver (its operations port). Labels: provider names and refusal codes only.
  const registry = processRegistry({ processMetrics: options.processMetrics });
  const metrics = webhookMetrics(registry);
  const settled = new WeakMap<FastifyRequest, Settled>();
  // The series alerts divide start at 0: a counter first scraped at 1 has no increase() to show for it.
  for (const provider of [...providers.keys(), unknownProvider]) {
    metrics.received.inc({ provider }, 0);
    metrics.accepted.inc({ provider }, 0);
    metrics.duplicates.inc({ provider }, 0);
  }
  const starter = new TemporalStarter({
    address: options.temporal.address,
    namespace: options.temporal.namespace,
    taskQueue: options.temporal.taskQueue ?? WORKFLOWS_TASK_QUEUE,
    startTimeoutMs: options.temporal.startTimeoutMs,
    dataConverter: options.temporal.dataConverter,
    tracer: options.temporal.tracer,
  });
  // Where a verified event goes: a benchmark's hand-off, the durable outbox, or a Temporal start in the request.
  const deliver = (event: WebhookEventInput): Promise<StartOutcome> => {
    const workflowId = webhookWorkflowId(event.provider, event.eventId);
    if (options.handOff) return options.handOff(event, workflowId);
    return options.outbox ? options.outbox.put(event, workflowId) : starter.start(event);
  };

  const app = createEdgeServer({
    limits: {
      maxBodyBytes,
      headersTimeoutMs: options.limits?.headersTimeoutMs ?? 5_000,
      requestTimeoutMs: options.limits?.requestTimeoutMs ?? 10_000,
      keepAliveTimeoutMs: options.limits?.keepAliveTimeoutMs,
      maxHeaderBytes: options.limits?.maxHeaderBytes,
      maxConnections: options.limits?.maxConnections,
    },
    trustedProxies: options.trustedProxies,
    onRejected(rejection, request, error) {
      stats.reject(rejection.reason);
      if (request) settled.set(request, { kind: 'rejected', reason: rejection.reason });
      else {
        // Cut off by the server before it had a request (headers too slow or too large, a slow body, bad
        // HTTP): no provider to name and no answer to time, but still a delivery refused.
        metrics.received.inc({ provider: unknownProvider });
        metrics.rejected.inc({ provider: unknownProvider, reason: rejection.reason });
      }
      const level = rejection.status >= 500 ? 'error' : 'warn';
      const provider = request ? providerOf(request) : undefined;
      // Reason, status and IDs only: never headers, signatures, secrets or body contents.
      logger[level](
        {
          event: 'webhook.rejected',
          provider,
          reason: rejection.reason,
          status: rejection.status,
          ...(request ? { peer: peerAddress(request) } : {}),
          ...(rejection.status >= 500 && error instanceof Error ? { error: error.message } : {}),
        },
        `webhook rejected: ${rejection.reason}`,
      );
    },
    errorBody: (r) => ({
      ok: false,
      error: r.reason,
      ...(r.detail ? { message: r.detail } : {}),
      ...(r.issues ? { issues: r.issues } : {}),
    }),
  });

  function providerOf(request: FastifyRequest): string | undefined {
    const name = (request.params as { provider?: unknown } | undefined)?.provider;
    return typeof name === 'string' && providers.has(name) ? name : undefined;
  }

  // Every answer, whatever produced it (a handler, a check, Fastify itself, the 404 handler): counted once
  // with its outcome, and timed from the request's arrival to the answer's last byte handed to the socket.
  app.addHook('onResponse', (request, reply, done) => {
    const provider = providerOf(request) ?? unknownProvider;
    const outcome = settled.get(request);
    metrics.received.inc({ provider });
    if (outcome?.kind === 'accepted') metrics.accepted.inc({ provider });
    else if (outcome?.kind === 'duplicate') metrics.duplicates.inc({ provider });
    else if (outcome?.kind === 'rejected') metrics.rejected.inc({ provider, reason: outcome.reason });
    const status = `${Math.floor(reply.statusCode / 100)}xx`;
    metrics.ackLatency.observe({ provider, status }, reply.elapsedTime / 1000);
    done();
  });

  /** Every check that needs no body: a request that fails one is refused before its body is read. */
  function admit(request: FastifyRequest): void {
    const name = (request.params as { provider: string }).provider;
    const route = providers.get(name);
    if (!route) throw reject(404, 'unknown_provider', 'no such provider');
    stats.count('received');
    if (route.allowFrom && !route.allowFrom.has(request.ip)) {
      throw reject(403, 'source_not_allowed', 'this address may not deliver webhooks for this provider');
    }
    if (request.method !== 'POST') throw reject(405, 'method_not_allowed', 'use POST', { allow: 'POST' });
    if (!isJson(headerValue(request, 'content-type'))) {
      throw reject(415, 'unsupported_media_type', 'send Content-Type: application/json');
    }
    const declared = headerValue(request, 'content-length');
    if (declared !== undefined && Number(declared) > maxBodyBytes) {
      throw reject(413, 'payload_too_large', `the body is over ${maxBodyBytes} bytes`);
    }
    const timestamp = headerValue(request, 'webhook-timestamp');
    const fresh = checkTimestamp(timestamp, now(), toleranceSeconds);
    if (!fresh.ok) throw reject(401, fresh.reason, details[fresh.reason]);
    const present = route.definition.schemes.filter((s) =>
      s.kind === 'standard-webhooks'
        ? request.headers['webhook-signature'] !== undefined
        : request.headers[s.header] !== undefined,
    );
    if (present.length === 0) throw reject(401, 'missing_signature', details.missing_signature);
    if (route.requireSignedTimestamp && !present.some((s) => s.kind === 'standard-webhooks')) {
      throw reject(
        401,
        'signed_timestamp_required',
        'this provider must sign with Standard Webhooks (webhook-id, webhook-timestamp, webhook-signature)',
      );
    }
    admitted.set(request, { route, timestamp: timestamp ?? '', present });
  }

  async function receive(request: FastifyRequest, reply: FastifyReply): Promise<unknown> {
    const admission = admitted.get(request);
    if (!admission) throw new Error('request reached the handler without its checks');
    const { route, timestamp, present } = admission;
    const providerName = route.definition.name;
    const raw = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
    let text: string;
    try {
      // Exact bytes matter: a lossy decode would let two different bodies share one signature.
      text = utf8.decode(raw);
    } catch {
      throw reject(400, 'invalid_encoding', 'the body must be UTF-8');
    }

    // Verify on the raw bytes, every present scheme, before any parsing.
    const secrets = route.secrets();
    for (const scheme of present) {
      const verdict =
        scheme.kind === 'standard-webhooks'
          ? route.standard.verify(
              text,
              {
                id: headerValue(request, 'webhook-id'),
                timestamp,
                signature: headerValue(request, 'webhook-signature') ?? '',
              },
              secrets,
            )
          : verifyHexHmac(raw, headerValue(request, scheme.header) ?? '', secrets);
      if (!verdict.ok) throw reject(401, verdict.reason, details[verdict.reason]);
    }

    const json = parseJsonSafely(text);
    if (!json.ok) throw reject(400, 'malformed_json', 'the body is not valid JSON');
    const parsed = route.definition.parse(json.value);
    if (!parsed.ok) {
      throw new EdgeRejection(400, 'invalid_event', 'the event does not match the schema', {}, parsed.issues);
    }
    const event: WebhookEventInput = { ...parsed.event, ...(options.waiter ? { waiter: options.waiter } : {}) };

    if (options.verifyOnly) {
      stats.count('verifiedOnly');
      settled.set(request, { kind: 'verified' });
      return reply.code(200).send({ ok: true, status: 'verified' });
    }
    const outcome = await deliver(event);
    const fields = { provider: providerName, eventId: event.eventId, type: event.type, workflowId: outcome.workflowId };
    switch (outcome.kind) {
      case 'started':
        stats.count('accepted');
        settled.set(request, { kind: 'accepted' });
        logger.info({ event: 'webhook.accepted', ...fields }, 'webhook accepted');
        return reply.code(202).send({ ok: true, status: 'accepted' });
      case 'duplicate':
        stats.count('duplicates');
        settled.set(request, { kind: 'duplicate' });
        logger.info({ event: 'webhook.duplicate', ...fields }, 'webhook already accepted: nothing new started');
        return reply.code(200).send({ ok: true, status: 'duplicate' });
      case 'unavailable':
        logger.warn({ event: 'webhook.temporal_unavailable', ...fields, error: outcome.error }, 'Temporal unavailable');
        throw reject(503, 'temporal_unavailable', 'try again later', { 'retry-after': retryAfter });
      case 'failed':
        logger.error({ event: 'webhook.start_failed', ...fields, error: outcome.error }, 'workflow start refused');
        throw reject(500, 'start_failed', 'the event could not be handed over; it will be retried');
    }
  }

  app.route({
    method: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'],
    url: '/webhooks/:provider',
    bodyLimit: maxBodyBytes,
    onRequest: (request, _reply, done) => {
      try {
        admit(request);
        done();
      } catch (err) {
        done(err as Error);
      }
    },
    handler: receive,
  });

  options.outbox?.startRelay((event) => starter.start(event));
  const url = await listenEdge(app, options.host ?? '127.0.0.1', options.port ?? 0);
  let ops: OpsServer | undefined;
  try {
    if (options.ops) {
      ops = await startOpsServer({
        name: 'webhooks',
        host: options.ops.host,
        port: options.ops.port,
        logger,
        checks: [
          { name: 'temporal', check: () => starter.reachable() },
          { name: 'secrets', check: () => [...providers.values()].every((p) => p.secrets().length > 0) },
        ],
        routes: (opsApp) => {
          opsApp.get('/stats', (_request, reply) => reply.send(stats.snapshot()));
          metricsRoute(registry)(opsApp);
        },
      });
    }
  } catch (err) {
    await app.close();
    await starter.close();
    throw err;
  }

  let closing: Promise<void> | null = null;
  return {
    url,
    ...(ops ? { opsUrl: ops.url, metricsUrl: `${ops.url}/metrics` } : {}),
    stats: () => stats.snapshot(),
    close() {
      closing ??= (async () => {
        await app.close();
        await ops?.close();
        await options.outbox?.close();
        await starter.close();
      })();
      return closing;
    },
  };
}
