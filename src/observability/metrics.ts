import { X509Certificate } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Duration } from '@temporalio/common';
import type { Integration } from '../integrations/kit/define';
import { durationMs } from '../integrations/kit/duration';
import type { CallFinished, CallMetrics, ControlStateSeen } from './call-metrics';

/**
 * The worker's Prometheus metrics, served on its operations port (`GET /metrics`, src/workers/main.ts).
 *
 * prom-client (the Node client most Prometheus users run, maintained under the Prometheus org's
 * `client_js`) holds what the Temporal SDK cannot know: per integration and endpoint, how each call went.
 * The SDK's own metrics (task slots, latencies, workflow and activity outcomes, with the `task_queue`
 * label) and the counters workflows create through their metric meter come from Core's exporter
 * (`telemetryOptions.metrics.prometheus`, src/workers/runtime.ts), bound to loopback and appended here at
 * each scrape, so Prometheus scrapes one private port per process.
 *
 * Labels are bounded: integration and endpoint names come from the declarations, outcomes and reasons
 * from the failure table; never an ID, a key or customer data.
 */

/** Seconds; one attempt at a provider (user flows answer in 4 s at most, background attempts in 30 s). */
const attemptBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** Seconds a call waited for its rate-limiter token (user flows wait 250 ms at most, background 10 s). */
const waitBuckets = [0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Failure types that mean the provider refused our credentials. */
const credentialsRejected = new Set(['Unauthorized', 'CredentialsExpired']);
/** Failure types the error-rate alert counts (5xx, timeouts, network errors, unknown outcomes). */
const providerUnwell = ['ServerError', 'Timeout', 'NetworkError', 'OutcomeUnknown'];
/** A status page incident's impact levels (Statuspage's). */
const incidentImpacts = ['none', 'minor', 'major', 'critical'];

export interface LimiterView {
  /** The limiter's bucket of one integration (undefined before its first call). */
  state(key: string): { declared: number; rate: number; waiting: number; decreases: number } | undefined;
}

export interface WorkerMetricsOptions {
  /** The declared integrations: the static series (declared price, rate, secrets' and certificates' ages) come from them. */
  integrations: readonly Integration[];
  /** The worker's adaptive limiter, read at each scrape (current rate, callers waiting, cuts). */
  limiter?: LimiterView;
  /**
   * Counts the running workflows parked for an operator for one integration (a visibility count,
   * `src/workers/main.ts`). Read at most every `parkedCacheMs` and never for longer than 2 s per scrape.
   */
  countParked?: (integration: string) => Promise<number>;
  /** @default 15 seconds */
  parkedCacheMs?: number;
  /**
   * Counts the running workflows of one integration parked since before `parkedBefore` (search attribute
   * `ParkedAt`, a visibility count): `integration_parked_too_long_workflows`. Cached like `countParked`.
   */
  countParkedBefore?: (integration: string, parkedBefore: Date) => Promise<number>;
  /** How long a parked workflow may wait before it counts as waiting too long. @default 1 hour */
  parkedTooLongAfter?: Duration;
  /** Core's own Prometheus endpoint (Runtime telemetry), fetched and appended at each scrape. */
  coreMetricsUrl?: string;
  /** Where `<NAME>_FILE` secrets are configured (their files' ages are exported). @default process.env */
  env?: NodeJS.ProcessEnv;
  /** Node's process metrics (CPU, memory, event-loop lag, GC). @default true */
  processMetrics?: boolean;
}

export class WorkerMetrics {
  readonly registry = new Registry();
  /** What the engine, limiter, token caches and control plane report into. */
  readonly calls: CallMetrics;
  readonly contentType = this.registry.contentType;

  constructor(private readonly options: WorkerMetricsOptions) {
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry });
    this.calls = integrationMetrics(this.registry, options);
  }

  /**
   * The scrape: Core's metrics (when configured) followed by ours. A Core endpoint that does not answer
   * costs its metrics, not the scrape: `temporal_core_metrics_up` says so.
   */
  async scrape(): Promise<string> {
    const core = this.options.coreMetricsUrl ? await fetchCore(this.options.coreMetricsUrl) : undefined;
    const ours = await this.registry.metrics();
    if (core === undefined) return ours;
    const up = [
      '# HELP temporal_core_metrics_up Whether the Temporal Core metrics endpoint answered this scrape.',
      '# TYPE temporal_core_metrics_up gauge',
      `temporal_core_metrics_up ${core === null ? 0 : 1}`,
      '',
    ].join('\n');
    return `${core ?? ''}${core && !core.endsWith('\n') ? '\n' : ''}${up}${ours}`;
  }
}

async function fetchCore(url: string): Promise<string | null> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
    if (!response.ok) return null;
    return await response.text();
  } catch {
    return null;
  }
}

function integrationMetrics(registry: Registry, options: WorkerMetricsOptions): CallMetrics {
  const registers = [registry];
  const calls = new Counter({
    name: 'integration_calls_total',
    help: 'Calls through the call path, by outcome: ok, or the failure type (CircuitOpen, KillSwitch and a RateLimited held back by this worker sent nothing).',
    labelNames: ['integration', 'endpoint', 'outcome'] as const,
    registers,
  });
  const requests = new Counter({
    name: 'integration_requests_sent_total',
    help: 'Requests that left for the provider (a call held back or refused before sending is not one).',
    labelNames: ['integration', 'endpoint'] as const,
    registers,
  });
  // Bounded: a status is three digits (undici refuses any other), times the few outcomes a status leads to.
  const responses = new Counter({
    name: 'integration_http_responses_total',
    help: "Provider answers by HTTP status and by what the call made of it (outcome: ok or the failure type); the daily and weekly 4xx report's source.",
    labelNames: ['integration', 'endpoint', 'status', 'outcome'] as const,
    registers,
  });
  const attempt = new Histogram({
    name: 'integration_attempt_duration_seconds',
    help: 'One attempt past the gate (prepare, authenticate, one HTTP attempt, classify), by ok or failed.',
    labelNames: ['integration', 'endpoint', 'outcome'] as const,
    buckets: attemptBuckets,
    registers,
  });
  const retries = new Counter({
    name: 'integration_retries_total',
    help: 'Calls on a retry (activity attempt above 1), whatever their outcome.',
    labelNames: ['integration', 'endpoint'] as const,
    registers,
  });
  const unknown = new Counter({
    name: 'integration_unknown_outcomes_total',
    help: 'Writes whose outcome is unknown (timeout or reset after sending, 502/504): the workflow looks them up or resends with the same key.',
    labelNames: ['integration', 'endpoint'] as const,
    registers,
  });
  const rejected = new Counter({
    name: 'integration_credentials_rejected_total',
    help: 'Calls whose credentials the provider (or its token endpoint) refused: Unauthorized, CredentialsExpired.',
    labelNames: ['integration', 'outcome'] as const,
    registers,
  });
  const cost = new Counter({
    name: 'integration_cost_total',
    help: "Declared price of the requests sent (endpoint `pricePerCall`), in the provider's billing currency.",
    labelNames: ['integration', 'endpoint'] as const,
    registers,
  });
  const remaining = new Gauge({
    name: 'integration_rate_limit_remaining',
    help: "The provider's remaining quota in its current window, from its last answer's x-ratelimit-remaining header.",
    labelNames: ['integration'] as const,
    registers,
  });
  const limit = new Gauge({
    name: 'integration_rate_limit_limit',
    help: "The provider's quota per window, from its last answer's x-ratelimit-limit header.",
    labelNames: ['integration'] as const,
    registers,
  });
  const waits = new Histogram({
    name: 'integration_limiter_wait_seconds',
    help: "How long admitted calls waited for the adaptive limiter's token (0: at once).",
    labelNames: ['integration'] as const,
    buckets: waitBuckets,
    registers,
  });
  const refused = new Counter({
    name: 'integration_limiter_refused_total',
    help: 'Calls the adaptive limiter refused (their wait would exceed what the profile allows): nothing was sent.',
    labelNames: ['integration'] as const,
    registers,
  });
  const seenCuts = new Map<string, number>();
  const cuts = new Counter({
    name: 'integration_limiter_cuts_total',
    help: 'Times the adaptive limiter halved an integration’s rate (a 429, or headers saying the window is spent).',
    labelNames: ['integration'] as const,
    registers,
    collect() {
      for (const i of options.integrations) {
        const state = options.limiter?.state(i.name);
        if (!state) continue;
        const before = seenCuts.get(i.name) ?? 0;
        if (state.decreases > before) this.inc({ integration: i.name }, state.decreases - before);
        seenCuts.set(i.name, state.decreases);
      }
    },
  });
  new Gauge({
    name: 'integration_limiter_rate',
    help: 'Current rate of the adaptive limiter, calls per second (declared rate until the provider pushes back).',
    labelNames: ['integration'] as const,
    registers,
    collect() {
      for (const i of options.integrations) {
        const state = options.limiter?.state(i.name);
        if (state) this.set({ integration: i.name }, state.rate);
      }
    },
  });
  new Gauge({
    name: 'integration_limiter_waiting',
    help: "Calls waiting for the adaptive limiter's token right now.",
    labelNames: ['integration'] as const,
    registers,
    collect() {
      for (const i of options.integrations) {
        const state = options.limiter?.state(i.name);
        if (state) this.set({ integration: i.name }, state.waiting);
      }
    },
  });
  new Gauge({
    name: 'integration_cost_budget_per_day',
    help: 'Declared costBudgetPerDay of an integration, in the currency of its endpoints’ pricePerCall.',
    labelNames: ['integration'] as const,
    registers,
    collect() {
      for (const i of options.integrations)
        if (i.costBudgetPerDay !== undefined) this.set({ integration: i.name }, i.costBudgetPerDay);
    },
  });
  new Gauge({
    name: 'integration_declared_rate',
    help: 'Declared traffic.ratePerSecond of an integration (calls per second).',
    labelNames: ['integration'] as const,
    registers,
    collect() {
      for (const i of options.integrations) {
        const rate = i.traffic?.ratePerSecond;
        if (rate !== undefined) this.set({ integration: i.name }, rate);
      }
    },
  });
  const degraded = new Counter({
    name: 'integration_degraded_answers_total',
    help: 'Degraded answers: served by a declared fallback (stale cache, default answer) or accepted partial data (graphql-partial), by reason.',
    labelNames: ['integration', 'endpoint', 'reason'] as const,
    registers,
  });
  const tokens = new Counter({
    name: 'integration_token_refreshes_total',
    help: 'OAuth2 token fetches, by outcome: ok, or the failure type of the token endpoint.',
    labelNames: ['integration', 'outcome'] as const,
    registers,
  });
  const breaker = new Gauge({
    name: 'integration_breaker_state',
    help: 'Circuit breaker as this worker last read it: 1 for the current state (closed, open, half-open), 0 for the others.',
    labelNames: ['integration', 'state'] as const,
    registers,
  });
  const transitions = new Counter({
    name: 'integration_breaker_transitions_total',
    help: 'Breaker state changes this worker saw (it reads the state about once a second; every worker sees the same ones).',
    labelNames: ['integration', 'to'] as const,
    registers,
  });
  const breakerSource = new Gauge({
    name: 'integration_breaker_local',
    help: "1 while this worker cannot read the integration's control workflow and its own local breaker decides.",
    labelNames: ['integration'] as const,
    registers,
  });
  const killSwitch = new Gauge({
    name: 'integration_kill_switch',
    help: 'Kill switches as this worker last read them: 1 while switched off (endpoint `*`: the whole integration).',
    labelNames: ['integration', 'endpoint'] as const,
    registers,
  });
  const incidents = new Gauge({
    name: 'integration_provider_incidents',
    help: "Open incidents the provider's status page reports for the integration, by impact (none, minor, major, critical), as this worker last read the control state.",
    labelNames: ['integration', 'impact'] as const,
    registers,
  });
  const drift = new Counter({
    name: 'integration_schema_drift_total',
    help: "Answers that drifted from the declaration: a 2xx failing the endpoint's response schema (source schema), or a dark-launched version disagreeing with the primary (source dark_launch). Samples: npm run drift -- list.",
    labelNames: ['integration', 'endpoint', 'source'] as const,
    registers,
  });
  const lastState = new Map<string, ControlStateSeen>();
  // The series alerts read start at 0: a counter first scraped at 1 has no increase() to show for it.
  for (const i of options.integrations) {
    if (i.statusPage) for (const impact of incidentImpacts) incidents.set({ integration: i.name, impact }, 0);
    for (const outcome of credentialsRejected) rejected.inc({ integration: i.name, outcome }, 0);
    if (i.auth.kind === 'oauth2ClientCredentials') tokens.inc({ integration: i.name, outcome: 'ok' }, 0);
    if (i.traffic?.ratePerSecond !== undefined) {
      cuts.inc({ integration: i.name }, 0);
      refused.inc({ integration: i.name }, 0);
    }
    for (const [endpoint, spec] of Object.entries(i.endpoints)) {
      const labels = { integration: i.name, endpoint };
      requests.inc(labels, 0);
      for (const outcome of ['ok', ...providerUnwell]) calls.inc({ ...labels, outcome }, 0);
      drift.inc({ ...labels, source: 'schema' }, 0);
      if (spec.pricePerCall) cost.inc(labels, 0);
    }
  }
  parkedGauge(registry, options);
  secretGauges(registry, options);

  return {
    callFinished(event: CallFinished) {
      const labels = { integration: event.integration, endpoint: event.endpoint };
      calls.inc({ ...labels, outcome: event.outcome });
      if (event.status !== undefined)
        responses.inc({ ...labels, status: String(event.status), outcome: event.outcome });
      if (event.attempt > 1) retries.inc(labels);
      if (event.outcome === 'OutcomeUnknown') unknown.inc(labels);
      if (credentialsRejected.has(event.outcome))
        rejected.inc({ integration: event.integration, outcome: event.outcome });
      if (event.attemptMs !== undefined)
        attempt.observe({ ...labels, outcome: event.outcome === 'ok' ? 'ok' : 'failed' }, event.attemptMs / 1000);
      if (event.sent) {
        requests.inc(labels);
        if (event.pricePerCall) cost.inc(labels, event.pricePerCall);
      }
      const quota = event.rateLimit;
      if (quota?.remaining !== undefined) remaining.set({ integration: event.integration }, quota.remaining);
      if (quota?.limit !== undefined) limit.set({ integration: event.integration }, quota.limit);
    },
    limiterAdmission(event) {
      if (event.admitted) waits.observe({ integration: event.integration }, event.waitedMs / 1000);
      else refused.inc({ integration: event.integration });
    },
    degradedAnswer(event) {
      degraded.inc(event);
    },
    tokenRefresh(event) {
      tokens.inc(event);
    },
    schemaDrift(event) {
      drift.inc(event);
    },
    controlState(event) {
      const before = lastState.get(event.integration);
      lastState.set(event.integration, event);
      for (const state of ['closed', 'open', 'half-open'] as const)
        breaker.set({ integration: event.integration, state }, event.breaker === state ? 1 : 0);
      if (before && before.breaker !== event.breaker)
        transitions.inc({ integration: event.integration, to: event.breaker });
      breakerSource.set({ integration: event.integration }, event.source === 'local' ? 1 : 0);
      // A switch lifted goes to 0 (not away), so an alert on it resolves instead of going stale.
      for (const endpoint of before?.killSwitches ?? [])
        if (!event.killSwitches.includes(endpoint)) killSwitch.set({ integration: event.integration, endpoint }, 0);
      for (const endpoint of event.killSwitches) killSwitch.set({ integration: event.integration, endpoint }, 1);
      if (event.providerIncidents)
        for (const impact of incidentImpacts)
          incidents.set(
            { integration: event.integration, impact },
            event.providerIncidents.filter((i) => i === impact).length,
          );
    },
  };
}

/**
 * Workflows parked for an operator, per integration: a visibility count of running workflows at stage
 * `parked`, so it falls when one is resolved and survives worker restarts (a counter kept in a workflow
 * could not). Every worker exports the same figure: aggregate with `max by (integration)`. Beside it, those
 * parked for longer than `parkedTooLongAfter` (by their `ParkedAt`), which the IntegrationParkedTooLong
 * alert reads.
 */
function parkedGauge(registry: Registry, options: WorkerMetricsOptions): void {
  const cacheMs = options.parkedCacheMs ?? 15_000;
  const count = options.countParked;
  if (count)
    visibilityGauge(registry, options.integrations, cacheMs, count, {
      name: 'integration_parked_workflows',
      help: 'Running workflows parked for an operator (WorkflowStage = parked), per integration; falls when resolved.',
    });
  const countBefore = options.countParkedBefore;
  if (countBefore) {
    const afterMs = durationMs(options.parkedTooLongAfter ?? '1 hour');
    visibilityGauge(
      registry,
      options.integrations,
      cacheMs,
      (integration) => countBefore(integration, new Date(Date.now() - afterMs)),
      {
        name: 'integration_parked_too_long_workflows',
        help: `Running workflows parked for an operator for more than ${afterMs / 60_000} minutes (ParkedAt), per integration.`,
      },
    );
  }
}

/** A per-integration gauge read from visibility, at most every `cacheMs` and for 2 s per scrape at most. */
function visibilityGauge(
  registry: Registry,
  integrations: readonly Integration[],
  cacheMs: number,
  count: (integration: string) => Promise<number>,
  metric: { name: string; help: string },
): void {
  let cached: { at: number; counts: Map<string, number> } | undefined;
  let inflight: Promise<void> | undefined;
  const refresh = async () => {
    const counts = new Map<string, number>();
    await Promise.all(
      integrations.map(async (i) => {
        try {
          counts.set(i.name, await count(i.name));
        } catch {
          // Unknown this time: the series is left out rather than reported as 0.
        }
      }),
    );
    cached = { at: Date.now(), counts };
  };
  new Gauge({
    ...metric,
    labelNames: ['integration'] as const,
    registers: [registry],
    async collect() {
      if (!cached || Date.now() - cached.at >= cacheMs) {
        inflight ??= refresh().finally(() => (inflight = undefined));
        await Promise.race([inflight, new Promise((resolve) => setTimeout(resolve, 2_000).unref())]);
      }
      this.reset();
      for (const [integration, n] of cached?.counts ?? []) this.set({ integration }, n);
    },
  });
}

/** The SecretRefs an integration declares (auth and mTLS), by variable name. */
function secretsOf(integration: Integration): { name: string; role: string }[] {
  const found: { name: string; role: string }[] = [];
  const walk = (value: unknown, role: string) => {
    if (!value || typeof value !== 'object') return;
    const ref = value as { kind?: unknown; name?: unknown };
    if (ref.kind === 'secret' && typeof ref.name === 'string') found.push({ name: ref.name, role });
    else for (const [k, v] of Object.entries(value)) walk(v, role === '' ? k : role);
  };
  walk(integration.auth, 'auth');
  walk(integration.mtls, 'mtls');
  return found;
}

/**
 * The age of each secret mounted as a file (`<NAME>_FILE`: its mtime, which a rotation renews) and when
 * each mTLS client certificate expires, for the rotation alerts. Secrets given as plain variables have no
 * age to read and are left out. Only variable names leave: never a value.
 */
function secretGauges(registry: Registry, options: WorkerMetricsOptions): void {
  const env = options.env ?? process.env;
  new Gauge({
    name: 'integration_secret_file_modified_timestamp_seconds',
    help: 'When a secret mounted as a file (<NAME>_FILE) last changed (its mtime): a rotation renews it.',
    labelNames: ['integration', 'secret'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const i of options.integrations)
        for (const { name } of secretsOf(i)) {
          const file = env[`${name}_FILE`];
          if (!file) continue;
          try {
            this.set({ integration: i.name, secret: name }, statSync(file).mtimeMs / 1000);
          } catch {
            // Missing file: the call path reports it as Misconfigured; nothing to date here.
          }
        }
    },
  });
  new Gauge({
    name: 'worker_temporal_certificate_expiry_timestamp_seconds',
    help: "When the worker's client certificate for Temporal (TEMPORAL_TLS_CERT_FILE) expires, epoch seconds.",
    // Labelled so that, with no certificate, no series is exported (an unlabelled gauge would read 0).
    labelNames: ['connection'] as const,
    registers: [registry],
    collect() {
      this.reset();
      const file = env.TEMPORAL_TLS_CERT_FILE;
      const expiry = file ? certificateExpiry(readOrUndefined(file)) : undefined;
      if (expiry !== undefined) this.set({ connection: 'temporal' }, expiry);
    },
  });
  new Gauge({
    name: 'integration_client_certificate_expiry_timestamp_seconds',
    help: 'When the mTLS client certificate of an integration expires (its notAfter), epoch seconds.',
    labelNames: ['integration'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const i of options.integrations) {
        const cert = i.mtls?.cert.name;
        if (!cert) continue;
        const file = env[`${cert}_FILE`];
        const expiry = certificateExpiry(file ? readOrUndefined(file) : env[cert]);
        if (expiry !== undefined) this.set({ integration: i.name }, expiry);
      }
    },
  });
}

/** A PEM certificate's notAfter, epoch seconds; undefined when there is none or it does not parse. */
function certificateExpiry(pem: string | undefined): number | undefined {
  if (!pem) return undefined;
  try {
    return Date.parse(new X509Certificate(pem).validTo) / 1000;
  } catch {
    return undefined; // not a certificate: the transport refuses it with its own error
  }
}

function readOrUndefined(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/**
 * A registry for a process other than the worker (the webhook receiver, the codec server), served at
 * `GET /metrics` on its operations port: Node's process metrics (`process_*`, `nodejs_*`) plus what the
 * process adds to it.
 */
export function processRegistry(options: { processMetrics?: boolean } = {}): Registry {
  const registry = new Registry();
  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry });
  return registry;
}

/** `GET /metrics` on an operations port, for the `routes` of `startOpsServer` (./ops-server.ts). */
export function metricsRoute(registry: Registry): (app: FastifyInstance) => void {
  return (app) => {
    app.get('/metrics', async (_request, reply) =>
      reply.header('content-type', registry.contentType).send(await registry.metrics()),
    );
  };
}

/** Seconds from a webhook request's arrival to its answer (senders give up after about 5 s). */
const ackBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/**
 * The webhook receiver's metrics, in its own registry (its operations port, src/webhooks/server.ts).
 * `provider` is a configured provider's name, or `unknown` for a request that names none (another path,
 * an unknown provider, a request that never got as far as its headers); `reason` is the receiver's stable
 * refusal code (the `error` of the answer, the `reason` of the log line and of `/stats`): a fixed set.
 */
export type WebhookMetrics = ReturnType<typeof webhookMetrics>;

export function webhookMetrics(registry: Registry) {
  const registers = [registry];
  return {
    received: new Counter({
      name: 'webhook_received_total',
      help: 'Webhook requests, each counted once when it is answered (accepted, duplicate or rejected) or cut off by the server.',
      labelNames: ['provider'] as const,
      registers,
    }),
    accepted: new Counter({
      name: 'webhook_accepted_total',
      help: 'Webhooks accepted: verified, valid, and their workflow started (202).',
      labelNames: ['provider'] as const,
      registers,
    }),
    duplicates: new Counter({
      name: 'webhook_duplicates_total',
      help: 'Redeliveries of an event already processed (200, nothing started).',
      labelNames: ['provider'] as const,
      registers,
    }),
    rejected: new Counter({
      name: 'webhook_rejected_total',
      help: 'Webhooks refused, by the reason the answer gives (unsupported_media_type, payload_too_large, timestamp_too_old, signature_mismatch, invalid_event, source_not_allowed, temporal_unavailable, request_timeout, ...).',
      labelNames: ['provider', 'reason'] as const,
      registers,
    }),
    ackLatency: new Histogram({
      name: 'webhook_ack_duration_seconds',
      help: "From the request's arrival to its answer, by status class (2xx, 4xx, 5xx).",
      labelNames: ['provider', 'status'] as const,
      buckets: ackBuckets,
      registers,
    }),
  };
}

/**
 * The codec server's metrics (src/codec/codec-server.ts): decode and encode requests by outcome. `operation`
 * is `decode`, `encode` or `other` (a path that is neither); `outcome` is `ok`, `unauthorized` (401: no or
 * a bad token), `forbidden` (403: role or origin), `bad-request` (other 4xx) or `error` (5xx).
 */
export function codecMetrics(registry: Registry) {
  const requests = new Counter({
    name: 'codec_requests_total',
    help: 'Codec server requests by operation (decode, encode, other) and outcome (ok, unauthorized, forbidden, bad-request, error).',
    labelNames: ['operation', 'outcome'] as const,
    registers: [registry],
  });
  for (const operation of ['decode', 'encode'])
    for (const outcome of ['ok', 'unauthorized', 'forbidden', 'bad-request', 'error'])
      requests.inc({ operation, outcome }, 0);
  return {
    requests,
    /** One answered request, by its HTTP status. */
    answered(operation: string | undefined, status: number): void {
      const op = operation === 'decode' || operation === 'encode' ? operation : 'other';
      const outcome =
        status < 400
          ? 'ok'
          : status === 401
            ? 'unauthorized'
            : status === 403
              ? 'forbidden'
              : status < 500
                ? 'bad-request'
                : 'error';
      requests.inc({ operation: op, outcome });
    },
  };
}
