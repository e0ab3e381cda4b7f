import { createHash } from 'node:crypto';
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import type { LookupFunction } from 'node:net';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { Pool, type Dispatcher } from 'undici';
import type { Logger } from '../../observability/logger';
import type { AuthSpec, EndpointSpec, Integration } from '../kit/define';
import { FailureType, semanticsOf, type CallFailureDetails } from '../kit/failures';
import type { Profile } from '../kit/profiles';
import type { AdaptiveLimiter } from './adaptive-limiter';
import { classify, tlsVerificationCodes, type Outcome, type Verdict } from './classify';
import type { ControlPlane } from './control';
import { fallbackKey, type FallbackCache } from './fallback-cache';
import { loggableBody, scrubText } from './redact';
import { MissingConfigError, SecretSource } from './secrets';
import { TokenCache, type Token } from './token-cache';
import { UrlPolicyError, checkBaseUrl, isForbiddenAddress } from './url-policy';

export interface CallContext {
  /** 1-based attempt of the activity execution. */
  attempt: number;
  workflowId?: string;
  activityId?: string;
  signal?: AbortSignal;
}

export interface RuntimeOptions {
  logger: Logger;
  secrets?: SecretSource;
  env?: NodeJS.ProcessEnv;
  /** Shared circuit breakers and kill switches; none when unset (every call proceeds). */
  control?: ControlPlane;
  /** Paces integrations that declare `traffic.ratePerSecond` and adapts to 429s; none when unset (no pacing). */
  limiter?: AdaptiveLimiter;
  /** Replaces the per-integration pool, for unit tests with undici's MockAgent. */
  dispatcher?: (integration: Integration) => Dispatcher;
  /** Where declared fallbacks (`EndpointSpec.fallback`) keep answers; none when unset: no fallbacks at all. */
  fallbackCache?: FallbackCache;
  /** Clock of the fallbacks' freshness (give the cache the same one), ms since the epoch. @default Date.now */
  now?: () => number;
}

/** Transport errors that prove nothing reached the provider. */
const notSentCodes = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
]);

const DEFAULT_MAX_RESPONSE_BYTES = 1024 * 1024;

/**
 * Turns integration definitions into calls: one HTTP attempt per activity execution over the
 * integration's own connection pool, classified into a result or a typed ApplicationFailure, logged once.
 * One instance per worker process; it owns the pools and the OAuth token caches.
 */
export class IntegrationRuntime {
  readonly secrets: SecretSource;
  private readonly env: NodeJS.ProcessEnv;
  /** As in the config module: development unless said otherwise (production images set it). */
  private readonly nodeEnv: string;
  private readonly allowHttpHosts: string[];
  private readonly pools = new Map<string, { key: string; pool: Dispatcher }>();
  private readonly tokens = new Map<string, TokenCache>();
  /** Background refreshes of stale fallback answers, by cache key: at most one in flight per key. */
  private readonly refreshing = new Map<string, Promise<void>>();
  /** Degraded answers served (stale or default), by `<integration>.<endpoint> <reason>`. */
  private readonly degraded = new Map<string, number>();

  constructor(private readonly options: RuntimeOptions) {
    this.env = options.env ?? process.env;
    this.nodeEnv = this.env.NODE_ENV || 'development';
    this.allowHttpHosts = (this.env.ALLOW_HTTP_HOSTS ?? '')
      .split(',')
      .map((h) => h.trim())
      .filter(Boolean);
    this.secrets = options.secrets ?? new SecretSource(this.env);
  }

  /**
   * The activity functions of an integration: `<integration><Endpoint>` for each endpoint, and for each
   * poller `<integration><Poller>` (polls inside one heartbeating execution) and `<...>Once`.
   */
  activities(integration: Integration): Record<string, (input: CallInputShape) => Promise<unknown>> {
    const activities: Record<string, (input: CallInputShape) => Promise<unknown>> = {};
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
          await ctx.sleep(poller.intervalMs ?? 1_000); // throws CancelledFailure when the workflow stops waiting
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

  /**
   * One attempt at one endpoint. Resolves with the validated body; throws an ApplicationFailure otherwise.
   * An endpoint that declares a fallback (and a runtime with a fallback cache) may answer from it instead.
   */
  async call(
    integration: Integration,
    endpointName: string,
    input: CallInputShape,
    ctx: CallContext,
  ): Promise<unknown> {
    const fallback = integration.endpoints[endpointName]?.fallback;
    const cache = this.options.fallbackCache;
    // A caller that will write based on this answer asks for the provider's current one (`fresh: true`).
    if (!fallback || !cache || input.fresh) return this.callProvider(integration, endpointName, input, ctx);
    return this.callWithFallback(integration, endpointName, input, ctx, fallback, cache);
  }

  /**
   * A declared fallback around the call: a fresh cached answer is served without calling; a stale one
   * (inside `staleMs`) is served at once while one background refresh runs (stale-while-revalidate; if
   * the refresh fails, the stale answer keeps being served until `staleMs` runs out: stale-if-error);
   * otherwise the provider is called, and when it is unavailable (including an open breaker or a kill
   * switch, which throw from `gate` before anything is sent) the declared default answers. Any other
   * failure (a rejected request, an invalid response) is thrown as before.
   */
  private async callWithFallback(
    integration: Integration,
    endpointName: string,
    input: CallInputShape,
    ctx: CallContext,
    fallback: NonNullable<EndpointSpec['fallback']>,
    cache: FallbackCache,
  ): Promise<unknown> {
    const window = fallback.cache;
    const key = window ? fallbackKey(integration, endpointName, input) : undefined;
    const cached = key ? await cache.get(key).catch(() => undefined) : undefined;
    if (window && key && cached) {
      const age = this.now() - cached.storedAt;
      if (age < window.freshMs) return cached.value; // fresh: no request leaves
      if (age < window.freshMs + window.staleMs) {
        this.revalidate(integration, endpointName, input, ctx, key, window, cache);
        this.recordDegraded(integration, endpointName, ctx, 'stale-while-revalidate', age);
        return cached.value;
      }
    }
    try {
      const value = await this.callProvider(integration, endpointName, input, ctx);
      if (window && key) await cache.set(key, value, window.freshMs + window.staleMs).catch(() => undefined);
      return value;
    } catch (err) {
      if (!(err instanceof ApplicationFailure) || !semanticsOf(err.type).fallback || !('default' in fallback))
        throw err;
      this.recordDegraded(integration, endpointName, ctx, err.type!, undefined);
      return fallback.default;
    }
  }

  /** Refreshes a stale cached answer in the background, once per key at a time; a failure keeps the stale one. */
  private revalidate(
    integration: Integration,
    endpointName: string,
    input: CallInputShape,
    ctx: CallContext,
    key: string,
    window: { freshMs: number; staleMs: number },
    cache: FallbackCache,
  ): void {
    if (this.refreshing.has(key)) return;
    // No cancellation signal: the refresh outlives the activity that served the stale answer.
    const refresh = this.callProvider(integration, endpointName, input, {
      attempt: 1,
      workflowId: ctx.workflowId,
      activityId: ctx.activityId,
    })
      .then((value) => cache.set(key, value, window.freshMs + window.staleMs))
      .catch((err: unknown) => {
        // Already logged by the call itself; this says what it means for the callers.
        this.options.logger.warn(
          {
            integration: integration.name,
            endpoint: endpointName,
            outcome: (err as ApplicationFailure).type ?? 'error',
          },
          'fallback refresh failed; the stale answer is served until it expires',
        );
      })
      .finally(() => this.refreshing.delete(key));
    this.refreshing.set(key, refresh);
  }

  /** Logs (once per answer, at warn) and counts a degraded answer, so affected flows can be reviewed. */
  private recordDegraded(
    integration: Integration,
    endpoint: string,
    ctx: CallContext,
    reason: string,
    ageMs: number | undefined,
  ): void {
    const counter = `${integration.name}.${endpoint} ${reason}`;
    this.degraded.set(counter, (this.degraded.get(counter) ?? 0) + 1);
    this.options.logger.warn(
      {
        integration: integration.name,
        endpoint,
        workflowId: ctx.workflowId,
        activityId: ctx.activityId,
        reason,
        answer: ageMs === undefined ? 'default' : 'stale',
        ageMs,
      },
      'degraded answer served (fallback)',
    );
  }

  /** Degraded answers served so far (stale or default), in total or for one integration. */
  degradedCount(integration?: string): number {
    let total = 0;
    for (const [counter, n] of this.degraded) if (!integration || counter.startsWith(`${integration}.`)) total += n;
    return total;
  }

  /** Degraded answers served so far, by `<integration>.<endpoint> <reason>`. */
  degradedAnswers(): Record<string, number> {
    return Object.fromEntries(this.degraded);
  }

  /** Resolves when every background refresh in flight has finished (tests; shutdown). */
  async refreshesSettled(): Promise<void> {
    while (this.refreshing.size > 0) await Promise.all(this.refreshing.values());
  }

  private now(): number {
    return (this.options.now ?? Date.now)();
  }

  /** One HTTP attempt (the breaker and kill switch first), logged and classified. */
  private async callProvider(
    integration: Integration,
    endpointName: string,
    input: CallInputShape,
    ctx: CallContext,
  ): Promise<unknown> {
    const spec = integration.endpoints[endpointName];
    if (!spec) throw new Error(`integration ${integration.name} has no endpoint ${endpointName}`);
    const profile = integration.profileOf(endpointName);
    // Traffic shaping first: a call refused here sends nothing and takes no half-open probe.
    await this.pace(integration, endpointName, profile, ctx);
    const probe = await this.gate(integration, endpointName, profile, ctx);
    const started = performance.now();
    const log: Record<string, unknown> = {
      integration: integration.name,
      endpoint: endpointName,
      method: spec.method,
      attempt: ctx.attempt,
      workflowId: ctx.workflowId,
      activityId: ctx.activityId,
      idempotencyKey: spec.idempotency === 'safe' ? undefined : input.key,
    };
    let requestBody: string | undefined;
    let verdict: Verdict;
    let outcome: Outcome | undefined;
    let usedToken: Token | undefined;
    try {
      const request = this.buildRequest(integration, spec, input);
      log.url = request.logUrl;
      requestBody = request.body;
      const auth = await this.authHeaders(integration, integration.auth);
      usedToken = auth.token;
      outcome = await this.send(integration, request, { ...request.headers, ...auth.headers }, profile, ctx.signal);
      verdict = classify(outcome, {
        spec,
        profile,
        attempt: ctx.attempt,
        credentialsRefreshable: integration.auth.kind === 'oauth2ClientCredentials' && !usedToken?.afterRejection,
        errorPayload: integration.errorPayload,
      });
    } catch (err) {
      if (ctx.signal?.aborted) throw err; // cancelled by Temporal: let the SDK report it
      verdict = setupFailure(err);
    }
    if (!verdict.ok && verdict.type === FailureType.CredentialsExpired && usedToken) {
      this.tokens.get(integration.name)?.invalidate(usedToken);
    }

    const durationMs = Math.round(performance.now() - started);
    const status = outcome?.kind === 'response' ? outcome.status : undefined;
    const secrets = this.secrets.knownSecrets();
    this.options.control?.record(integration, verdict.ok ? undefined : verdict.type, probe);
    // The provider's answer (429, `x-ratelimit-remaining: 0`, or clean) adapts the integration's rate.
    if (outcome?.kind === 'response' && integration.traffic?.ratePerSecond !== undefined) {
      this.options.limiter?.observe(integration.name, integration.traffic.ratePerSecond, {
        rateLimited: !verdict.ok && verdict.type === FailureType.RateLimited,
        headers: outcome.headers,
      });
    }
    if (verdict.ok && usedToken) this.tokens.get(integration.name)?.confirm(usedToken);
    if (verdict.ok) {
      this.options.logger.info({ ...log, status, durationMs, outcome: 'ok' }, 'integration call');
      return verdict.value;
    }
    const pii = [...(integration.pii ?? []), ...(spec.pii ?? [])];
    // A malformed or HTML body cannot be redacted by key: also scrub the PII values this call sent.
    const hidden = [...secrets, ...valuesOf(input.body, pii)];
    const message = scrubText(`${integration.name}.${endpointName}: ${verdict.message}`, hidden);
    this.options.logger.warn(
      {
        ...log,
        status,
        durationMs,
        outcome: verdict.type,
        retryable: verdict.retryable,
        nextRetryDelayMs: verdict.nextRetryDelayMs,
        error: message,
        code: outcome?.kind === 'transport' ? outcome.code : undefined,
        requestBody: loggableBody(requestBody, pii, hidden),
        responseBody: outcome?.kind === 'response' ? loggableBody(outcome.body, pii, hidden) : undefined,
      },
      'integration call failed',
    );
    const details: CallFailureDetails = {
      integration: integration.name,
      endpoint: endpointName,
      method: spec.method,
      url: typeof log.url === 'string' ? log.url : '',
      status,
      code: outcome?.kind === 'transport' ? outcome.code : undefined,
      attempt: ctx.attempt,
      idempotencyKey: log.idempotencyKey as string | undefined,
    };
    throw ApplicationFailure.create({
      type: verdict.type,
      message,
      nonRetryable: !verdict.retryable,
      nextRetryDelay: verdict.nextRetryDelayMs,
      details: [details],
    });
  }

  /**
   * Traffic shaping (see adaptive-limiter.ts), before anything is sent: waits for the integration's token.
   * A call that would wait longer than its profile allows (user flows: a fraction of a second) sends
   * nothing and fails `RateLimited`, retryable, with the estimated wait as `nextRetryDelay`.
   */
  private async pace(integration: Integration, endpoint: string, profile: Profile, ctx: CallContext): Promise<void> {
    const limiter = this.options.limiter;
    const rate = integration.traffic?.ratePerSecond;
    if (!limiter || rate === undefined) return;
    const admission = await limiter.acquire(integration.name, rate, {
      maxWaitMs: limiter.maxWaitMs(profile.name),
      signal: ctx.signal, // a cancelled activity stops waiting
    });
    if (admission.admitted) return;
    // Background work must not come back in lockstep.
    const delay = Math.round(admission.retryAfterMs * (profile.jitter ? 1 + Math.random() * 0.2 : 1));
    this.options.logger.warn(
      {
        integration: integration.name,
        endpoint,
        attempt: ctx.attempt,
        workflowId: ctx.workflowId,
        outcome: FailureType.RateLimited,
        retryInMs: delay,
      },
      'integration call held back',
    );
    throw ApplicationFailure.create({
      type: FailureType.RateLimited,
      message: `${integration.name}.${endpoint}: over its rate limit in this worker; no request sent: retry in ${delay} ms`,
      nonRetryable: false,
      nextRetryDelay: delay,
      details: [heldBackDetails(integration, endpoint, ctx)],
    });
  }

  /**
   * The shared controls, before anything is sent: a kill switch or an open breaker stops the call.
   * User flows fail fast (non-retryable) and take their fallback; background work is retried after the
   * cooldown, spread over half of it again so waiting work resumes in waves, not all at once.
   * Returns whether this call is the half-open probe.
   */
  private async gate(integration: Integration, endpoint: string, profile: Profile, ctx: CallContext): Promise<boolean> {
    if (!this.options.control) return false;
    const decision = await this.options.control.gate(integration, endpoint);
    if (decision.proceed) return decision.probe;
    const userFlow = profile.name === 'userFlow';
    const delay = Math.round(decision.retryAfterMs * (1 + Math.random() * 0.5));
    const message =
      decision.reason === 'KillSwitch'
        ? `${integration.name}.${endpoint}: switched off by an operator (kill switch)`
        : `${integration.name}.${endpoint}: circuit breaker open; no request sent`;
    this.options.logger.warn(
      {
        integration: integration.name,
        endpoint,
        attempt: ctx.attempt,
        workflowId: ctx.workflowId,
        outcome: decision.reason,
        retryInMs: userFlow ? undefined : delay,
      },
      'integration call held back',
    );
    throw ApplicationFailure.create({
      type: decision.reason === 'KillSwitch' ? FailureType.KillSwitch : FailureType.CircuitOpen,
      message: userFlow ? `${message}: take the fallback` : `${message}: waiting ${delay} ms`,
      nonRetryable: userFlow,
      nextRetryDelay: userFlow ? undefined : delay,
      details: [heldBackDetails(integration, endpoint, ctx)],
    });
  }

  /** Calls the integration's `hello` endpoint once: does auth, TLS and routing work? */
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

  async close(): Promise<void> {
    await this.refreshesSettled(); // background fallback refreshes use the pools
    await Promise.all([...this.pools.values()].map(({ pool }) => pool.close()));
    this.pools.clear();
  }

  private buildRequest(integration: Integration, spec: EndpointSpec, input: CallInputShape) {
    const base = checkBaseUrl(this.secrets.value(integration.baseUrl), this.nodeEnv, this.allowHttpHosts);
    const params = spec.params ? parseInput(spec.params, input.params, 'params') : {};
    const query = spec.query ? parseInput(spec.query, input.query ?? {}, 'query') : undefined;
    const body = spec.body ? parseInput(spec.body, input.body, 'body') : undefined;
    if (spec.idempotency !== 'safe' && integration.idempotency && !input.key) {
      throw new InputError(`a write needs an idempotency key: pass { key: stepKey('<step>') } from the workflow`);
    }
    const path = spec.path.replace(/:(\w+)/g, (_m, name: string) => {
      const value = (params as Record<string, unknown>)[name];
      if (typeof value !== 'string' && typeof value !== 'number')
        throw new InputError(`path parameter ${name} is missing`);
      return encodeURIComponent(value);
    });
    const fullPath = `${base.pathname.replace(/\/$/, '')}/${path.replace(/^\//, '')}`;
    const search = query
      ? new URLSearchParams(
          Object.entries(query as Record<string, unknown>)
            .filter(([, v]) => v !== undefined)
            .map(([k, v]): [string, string] => [k, String(v)]),
        ).toString()
      : '';
    const headers: Record<string, string> = { accept: 'application/json', 'user-agent': 'durable-integrations' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (integration.idempotency && input.key && spec.idempotency !== 'safe')
      headers[integration.idempotency.header.toLowerCase()] = input.key;
    return {
      origin: base.origin,
      method: spec.method,
      path: search ? `${fullPath}?${search}` : fullPath,
      logUrl: `${base.origin}${fullPath}`,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    };
  }

  private async send(
    integration: Integration,
    request: ReturnType<IntegrationRuntime['buildRequest']>,
    headers: Record<string, string>,
    profile: ReturnType<Integration['profileOf']>,
    signal: AbortSignal | undefined,
  ): Promise<Outcome> {
    try {
      const res = await this.dispatcher(integration, request.origin).request({
        origin: request.origin,
        method: request.method,
        path: request.path,
        headers,
        body: request.body,
        headersTimeout: profile.headersTimeoutMs,
        bodyTimeout: profile.bodyTimeoutMs,
        signal,
      });
      const maxBytes = integration.pool?.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
      const declared = Number(res.headers['content-length']);
      const body = declared > maxBytes ? (res.body.destroy(), undefined) : await readCapped(res.body, maxBytes);
      return {
        kind: 'response',
        status: res.statusCode,
        headers: res.headers,
        body: body ?? '',
        oversized: body === undefined,
      };
    } catch (err) {
      if (signal?.aborted) throw err;
      if (err instanceof UrlPolicyError) throw err;
      const e = err as NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException };
      if (e.cause instanceof UrlPolicyError) throw e.cause;
      const code = e.code ?? e.cause?.code ?? 'UNKNOWN';
      return { kind: 'transport', code, message: e.message, sent: !notSentCodes.has(code) };
    }
  }

  /** One pool per integration (per origin and client certificate, so a rotated certificate gets a new pool). */
  private dispatcher(integration: Integration, origin: string): Dispatcher {
    if (this.options.dispatcher) return this.options.dispatcher(integration);
    const tls = integration.mtls
      ? {
          cert: this.secrets.value(integration.mtls.cert),
          key: this.secrets.value(integration.mtls.key),
          ca: integration.mtls.ca ? this.secrets.value(integration.mtls.ca) : undefined,
        }
      : undefined;
    const key = `${origin}|${
      tls
        ? createHash('sha256')
            .update(tls.cert + tls.key + (tls.ca ?? ''))
            .digest('hex')
        : ''
    }`;
    const existing = this.pools.get(integration.name);
    if (existing?.key === key) return existing.pool;
    if (existing) void existing.pool.close(); // finishes in-flight requests, then releases the old certificate
    const connectTimeout = Math.min(
      ...Object.keys(integration.endpoints).map((e) => integration.profileOf(e).connectTimeoutMs),
    );
    const pool = new Pool(origin, {
      connections: integration.pool?.connections ?? 10,
      keepAliveTimeout: integration.pool?.keepAliveMs ?? 4_000,
      clientTtl: integration.pool?.connectionTtlMs ?? 60_000,
      connect: { timeout: connectTimeout, lookup: ssrfSafeLookup, ...(tls ?? {}) },
    });
    this.pools.set(integration.name, { key, pool });
    return pool;
  }

  private async authHeaders(
    integration: Integration,
    auth: AuthSpec,
  ): Promise<{ headers: Record<string, string>; token?: Token }> {
    switch (auth.kind) {
      case 'none':
        return { headers: {} };
      case 'apiKey': {
        const key = this.secrets.value(auth.key);
        return { headers: { [auth.header.toLowerCase()]: auth.scheme ? `${auth.scheme} ${key}` : key } };
      }
      case 'oauth2ClientCredentials': {
        const token = await this.tokenCache(integration, auth).get();
        return { headers: { authorization: `Bearer ${token.value}` }, token };
      }
    }
  }

  private tokenCache(
    integration: Integration,
    auth: Extract<AuthSpec, { kind: 'oauth2ClientCredentials' }>,
  ): TokenCache {
    let cache = this.tokens.get(integration.name);
    if (!cache) {
      cache = new TokenCache({
        refreshAheadMs: auth.refreshAheadMs,
        fetch: () => this.fetchToken(integration, auth),
        onBackgroundError: (err) =>
          this.options.logger.warn(
            {
              integration: integration.name,
              error: scrubText(String((err as Error).message), this.secrets.knownSecrets()),
            },
            'background token refresh failed; serving the cached token while it is valid',
          ),
      });
      this.tokens.set(integration.name, cache);
    }
    return cache;
  }

  private async fetchToken(
    integration: Integration,
    auth: Extract<AuthSpec, { kind: 'oauth2ClientCredentials' }>,
  ): Promise<{ value: string; expiresInMs: number }> {
    const base = checkBaseUrl(this.secrets.value(integration.baseUrl), this.nodeEnv, this.allowHttpHosts);
    const url = checkBaseUrl(
      new URL(auth.tokenUrl.replace(/^\//, ''), `${base.href.replace(/\/$/, '')}/`).href,
      this.nodeEnv,
    );
    const clientId = this.secrets.value(auth.clientId);
    const clientSecret = this.secrets.value(auth.clientSecret);
    const form = new URLSearchParams({
      grant_type: 'client_credentials',
      ...(auth.scope ? { scope: auth.scope } : {}),
    });
    const started = performance.now();
    let res: Dispatcher.ResponseData;
    try {
      res = await this.dispatcher(integration, url.origin).request({
        origin: url.origin,
        method: 'POST',
        path: url.pathname,
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          accept: 'application/json',
          authorization: `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString('base64')}`,
        },
        body: form.toString(),
        headersTimeout: 5_000,
        bodyTimeout: 5_000,
      });
    } catch (err) {
      const e = err as NodeJS.ErrnoException & { cause?: unknown };
      if (err instanceof MissingConfigError || err instanceof UrlPolicyError) throw err;
      if (e.cause instanceof UrlPolicyError) throw e.cause;
      if (e.code && tlsVerificationCodes.has(e.code)) {
        throw new UrlPolicyError(
          `token endpoint's TLS certificate not trusted (${e.code}): check the integration's CA`,
        );
      }
      throw new AuthError(`token endpoint unreachable (${e.code ?? 'error'})`, true);
    }
    const text = await res.body.text().catch(() => '');
    const durationMs = Math.round(performance.now() - started);
    this.options.logger.info(
      { integration: integration.name, url: `${url.origin}${url.pathname}`, status: res.statusCode, durationMs },
      'token request',
    );
    if (res.statusCode === 400 || res.statusCode === 401) {
      throw new AuthError(
        `token endpoint rejected the client credentials (${res.statusCode}): check the client id and secret`,
        false,
      );
    }
    if (res.statusCode < 200 || res.statusCode >= 300)
      throw new AuthError(`token endpoint answered ${res.statusCode}`, true);
    let parsed: { access_token?: unknown; expires_in?: unknown };
    try {
      parsed = JSON.parse(text) as typeof parsed;
    } catch {
      throw new AuthError('token endpoint answered with a body that is not JSON', true);
    }
    if (typeof parsed.access_token !== 'string')
      throw new AuthError('token endpoint answered without access_token', true);
    this.secrets.remember(parsed.access_token);
    const expiresIn = typeof parsed.expires_in === 'number' ? parsed.expires_in : 3600;
    return { value: parsed.access_token, expiresInMs: expiresIn * 1000 };
  }
}

/**
 * Details of a call held back before anything was sent. The attempt matters: a write refused on its
 * second attempt may have been applied by its first, so its outcome stays unknown.
 */
function heldBackDetails(integration: Integration, endpoint: string, ctx: CallContext): CallFailureDetails {
  const spec = integration.endpoints[endpoint];
  return {
    integration: integration.name,
    endpoint,
    method: spec?.method ?? 'GET',
    url: '',
    attempt: ctx.attempt,
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

/** What the activity receives; checked against the endpoint's schemas before anything is sent. */
export interface CallInputShape {
  key?: string;
  /** Skip a declared fallback: no cached or default answer, the provider's own or its failure. */
  fresh?: boolean;
  params?: unknown;
  query?: unknown;
  body?: unknown;
}

class InputError extends Error {}

class AuthError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
  ) {
    super(message);
  }
}

function parseInput(schema: NonNullable<EndpointSpec['body']>, value: unknown, field: string): unknown {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.slice(0, 3).map((i) => `${[field, ...i.path].join('.')}: ${i.message}`);
  throw new InputError(`input does not match the endpoint's schema: ${issues.join('; ')}`);
}

/** Failures before anything was sent: bad input, bad config, auth unavailable. */
function setupFailure(err: unknown): Verdict {
  const message = (err as Error).message;
  if (err instanceof AuthError) {
    return err.retryable
      ? { ok: false, type: FailureType.AuthUnavailable, message, retryable: true }
      : { ok: false, type: FailureType.Unauthorized, message, retryable: false };
  }
  if (err instanceof InputError || err instanceof UrlPolicyError || err instanceof MissingConfigError) {
    return { ok: false, type: FailureType.Misconfigured, message, retryable: false };
  }
  throw err;
}

/** The string values of the given keys, at any depth of `value`. */
function valuesOf(value: unknown, keys: readonly string[]): string[] {
  if (keys.length === 0 || !value || typeof value !== 'object') return [];
  return Object.entries(value as Record<string, unknown>).flatMap(([k, v]) =>
    keys.includes(k) && typeof v === 'string' ? [v] : valuesOf(v, keys),
  );
}

/**
 * Reads a body as text, giving up (and destroying the stream, so the socket is not kept busy) as
 * soon as it passes `maxBytes`, however the provider framed it (chunked bodies declare no length).
 */
async function readCapped(body: Dispatcher.ResponseData['body'], maxBytes: number): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) {
      body.destroy();
      return undefined;
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** DNS lookup that refuses link-local and metadata addresses, so a hostile DNS answer cannot reach them. */
const ssrfSafeLookup: LookupFunction = (hostname, options, callback) => {
  dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
    if (err) return callback(err, '', 0);
    const list = addresses;
    const bad = list.find((a) => isForbiddenAddress(a.address));
    if (bad)
      return callback(
        new UrlPolicyError(`${hostname} resolves to ${bad.address}, a link-local or metadata address`),
        '',
        0,
      );
    if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, list);
    const first = list[0]!;
    callback(null, first.address, first.family);
  });
};
