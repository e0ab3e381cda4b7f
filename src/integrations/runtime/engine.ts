import type { Tracer } from '@opentelemetry/api';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { Dispatcher } from 'undici';
import { noCallMetrics, type CallMetrics } from '../../observability/call-metrics';
import type { Logger } from '../../observability/logger';
import type { Integration } from '../kit/define';
import { FailureType, type CallFailureDetails } from '../kit/failures';
import type { AdaptiveLimiter } from './adaptive-limiter';
import { Credentials } from './auth/credentials';
import type { ActivityInput, Call, CallContext } from './call/call';
import { callPath } from './call/call-path';
import { Fallbacks } from './call/fallback';
import type { Gate } from './call/gate';
import type { Verdict } from './classify';
import { DriftRecorder } from './drift';
import type { FileDriftStore } from './drift-store';
import type { FallbackCache } from './fallback-cache';
import { SecretSource } from './secrets';
import { urlRulesFrom } from './transport/request';
import { Transport } from './transport/transport';

export type { ActivityInput, CallContext } from './call/call';

export interface EngineOptions {
  logger: Logger;
  secrets?: SecretSource;
  env?: NodeJS.ProcessEnv;
  /** Shared circuit breakers and kill switches (the control plane); none when unset: every call proceeds. */
  control?: Gate;
  /** Paces integrations that declare `traffic.ratePerSecond` and adapts to 429s; none when unset (no pacing). */
  limiter?: AdaptiveLimiter;
  /** Replaces the per-integration pool, for unit tests with undici's MockAgent. */
  dispatcher?: (integration: Integration) => Dispatcher;
  /** Where declared fallbacks (`EndpointSpec.fallback`) keep answers; none when unset: no fallbacks at all. */
  fallbackCache?: FallbackCache;
  /** Where each call's outcome, latency, price, limiter wait, token refresh and degraded answer are counted. @default none */
  metrics?: CallMetrics;
  /**
   * Where samples of drifting answers (a 2xx failing its schema, a dark launch's disagreement) are kept,
   * redacted; none when unset: drift is still counted and logged, no sample kept.
   */
  driftSamples?: FileDriftStore;
  /** Clock of the fallbacks' freshness (give the cache the same one), ms since the epoch. @default Date.now */
  now?: () => number;
  /** Tracing on: one span per HTTP attempt (src/observability/tracing.ts). @default none */
  tracer?: Tracer;
}

/**
 * Turns integration declarations into activities: one HTTP attempt per activity execution, through the
 * call path (call/call-path.ts: fallback, measure, pace, gate, report, drift, prepare, authenticate, send, classify),
 * answered with the validated body or thrown as a typed ApplicationFailure. One per worker process; it
 * owns the pools and the token caches.
 */
export class IntegrationEngine {
  readonly secrets: SecretSource;
  /** Counts and samples drift; the dark launch's comparison activity reports through it too. */
  readonly drift: DriftRecorder;
  private readonly transport: Transport;
  private readonly fallbacks: Fallbacks;
  private readonly path: (call: Call) => Promise<Verdict>;

  constructor(options: EngineOptions) {
    const env = options.env ?? process.env;
    const metrics = options.metrics ?? noCallMetrics;
    const rules = urlRulesFrom(env);
    this.secrets = options.secrets ?? new SecretSource(env);
    this.transport = new Transport(this.secrets, options.dispatcher);
    const credentials = new Credentials({
      secrets: this.secrets,
      transport: this.transport,
      rules,
      logger: options.logger,
      metrics,
    });
    this.fallbacks = new Fallbacks({
      cache: options.fallbackCache,
      logger: options.logger,
      now: options.now ?? Date.now,
      metrics,
    });
    this.drift = new DriftRecorder({
      store: options.driftSamples,
      metrics,
      logger: options.logger,
      secrets: this.secrets,
    });
    this.path = callPath({
      logger: options.logger,
      secrets: this.secrets,
      rules,
      transport: this.transport,
      credentials,
      fallbacks: this.fallbacks,
      controls: options.control,
      limiter: options.limiter,
      metrics,
      drift: this.drift,
      tracer: options.tracer,
    });
  }

  /**
   * The activity functions of an integration: `<integration><Endpoint>` for each endpoint, and for each
   * poller `<integration><Poller>` (polls inside one heartbeating execution) and `<...>Once`.
   */
  activities(integration: Integration): Record<string, (input: ActivityInput) => Promise<unknown>> {
    const activities: Record<string, (input: ActivityInput) => Promise<unknown>> = {};
    for (const endpoint of Object.keys(integration.endpoints)) {
      activities[integration.activityName(endpoint)] = (input) =>
        this.call(integration, endpoint, input, activityContext());
    }
    for (const [name, poller] of Object.entries(integration.pollers ?? {})) {
      activities[integration.pollerActivityName(name, 'heartbeat')] = async (input) => {
        const ctx = Context.current();
        // A retried execution resumes the count where the last one heartbeated.
        let polls = (ctx.info.heartbeatDetails as { polls?: number } | undefined)?.polls ?? 0;
        for (;;) {
          const result = await this.call(integration, poller.endpoint, input, {
            ...activityContext(),
            attempt: ++polls,
          });
          if (poller.done(result)) return result;
          ctx.heartbeat({ polls });
          await ctx.sleep(poller.interval ?? '1 second'); // throws CancelledFailure when the workflow stops waiting
        }
      };
      activities[integration.pollerActivityName(name, 'once')] = async (input) => {
        const result = await this.call(integration, poller.endpoint, input, activityContext());
        if (poller.done(result)) return result;
        throw ApplicationFailure.create({
          type: FailureType.NotReady,
          message: `${integration.name}.${name}: not finished yet`,
        });
      };
    }
    return activities;
  }

  /** One attempt at one endpoint: the validated body, or a typed ApplicationFailure. */
  async call(integration: Integration, endpoint: string, input: ActivityInput, ctx: CallContext): Promise<unknown> {
    const spec = integration.endpoints[endpoint];
    if (!spec) throw new Error(`integration ${integration.name} has no endpoint ${endpoint}`);
    const call: Call = {
      integration,
      endpoint,
      spec,
      profile: integration.profileOf(endpoint),
      input,
      ctx,
      probe: false,
    };
    const verdict = await this.path(call);
    if (verdict.ok) return verdict.value;
    throw ApplicationFailure.create({
      type: verdict.type,
      message: verdict.message,
      nonRetryable: !verdict.retryable,
      nextRetryDelay: verdict.nextRetryDelayMs,
      details: [detailsOf(call)],
    });
  }

  /** Calls the integration's `hello` endpoint once: do auth, TLS and routing work? */
  async hello(integration: Integration): Promise<{ ok: boolean; message: string }> {
    if (!integration.hello) return { ok: true, message: 'no hello endpoint declared' };
    try {
      await this.call(integration, integration.hello, {}, { attempt: 1 });
      return { ok: true, message: `${integration.hello} answered` };
    } catch (err) {
      const failure = err as ApplicationFailure;
      const hint =
        failure.type === FailureType.Unauthorized
          ? 'the credentials were rejected: check the secrets'
          : failure.type === FailureType.Misconfigured
            ? 'fix the configuration'
            : 'the provider may be down; calls will retry';
      return { ok: false, message: `${failure.message} (${hint})` };
    }
  }

  /** Degraded answers served so far (stale or default), in total or for one integration. */
  degradedCount(integration?: string): number {
    return this.fallbacks.total(integration);
  }

  /** Degraded answers served so far, by `<integration>.<endpoint> <reason>`. */
  degradedAnswers(): Record<string, number> {
    return this.fallbacks.answers();
  }

  /** Resolves when every background refresh of a stale answer has finished (tests; shutdown). */
  refreshesSettled(): Promise<void> {
    return this.fallbacks.settled();
  }

  async close(): Promise<void> {
    await this.fallbacks.settled(); // background refreshes use the pools
    await this.transport.close();
  }
}

/**
 * What the failure carries for the workflow and the UI: no secrets, no bodies. The attempt matters: a
 * write refused on its second attempt may have been applied by its first, so its outcome stays unknown.
 */
function detailsOf(call: Call): CallFailureDetails {
  const outcome = call.outcome;
  return {
    integration: call.integration.name,
    endpoint: call.endpoint,
    method: call.spec.method,
    url: call.request?.logUrl ?? '',
    status: outcome?.kind === 'response' ? outcome.status : undefined,
    code: outcome?.kind === 'transport' ? outcome.code : undefined,
    attempt: call.ctx.attempt,
    idempotencyKey: call.spec.idempotency === 'safe' ? undefined : call.input.key,
  };
}

function activityContext(): CallContext {
  const ctx = Context.current();
  return {
    attempt: ctx.info.attempt,
    workflowId: ctx.info.workflowExecution?.workflowId,
    activityId: ctx.info.activityId,
    signal: ctx.cancellationSignal,
  };
}
