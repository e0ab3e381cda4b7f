import type { Duration } from '@temporalio/common';
import type { z } from 'zod';
import { partialResult, scanDocument, type GraphqlFailureType } from './graphql';
import { resolveProfile, type Profile, type ProfileName, type ProfileOverrides } from './profiles';
import { validateIntegration } from './validate';
import type { EnvRef, SecretRef } from './refs';
import type { SupportSpec } from './support';
import { fileDropIntegration, type FileDropIntegration, type FileDropSpec, type FileEndpointSpec } from './file-drop';

/**
 * Declaring an integration: endpoints with their HTTP contract and zod schemas, auth, idempotency and a
 * profile per endpoint. Everything that calls, retries, times out and classifies comes from this.
 * Data and validation only, but it loads zod: workflow code reads the declarations through
 * src/integrations/manifest.generated.ts (kit/view.ts), never this module.
 */

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/**
 * - `safe`: a read; any failure may be retried.
 * - `key`: a write that sends the integration's idempotency header; resending with the same key is safe.
 * - `lookup`: a write the provider does not deduplicate; an unknown outcome is resolved with the
 *   endpoint named in `lookup` before anything is resent.
 */
export type IdempotencyMode = 'safe' | 'key' | 'lookup';

/** Finds an error carried inside a 2xx body (GraphQL `errors`, `{ok:false}`); returns its message. */
export type ErrorPayloadDetector = (body: unknown) => string | undefined;

export interface EndpointSpec<
  P extends z.ZodType = z.ZodType,
  Q extends z.ZodType = z.ZodType,
  B extends z.ZodType = z.ZodType,
  R extends z.ZodType = z.ZodType,
> {
  method: HttpMethod;
  /** Relative to the base URL; `:name` segments are filled from `params`. */
  path: string;
  params?: P;
  query?: Q;
  body?: B;
  /** Schema of a successful response body. A 2xx that does not match is an `InvalidResponse`. */
  response: R;
  /** @default 'safe' for GET, 'key' otherwise */
  idempotency: IdempotencyMode;
  /**
   * For a write: the safe read that finds its effect by the idempotency key it was sent with, and that
   * read's input for a key. An unknown outcome is settled with it before anything is resent.
   */
  lookup?: EndpointLookup;
  profile: ProfileName;
  overrides?: ProfileOverrides;
  /** What a 404 means: a failure (default) or a `null` result (declare the response `.nullable()`). */
  notFound: 'fail' | 'null';
  /** Statuses that count as success. @default any 2xx */
  successStatus?: number[];
  errorPayload?: ErrorPayloadDetector;
  /** Body fields (any depth) never logged, in addition to the integration's. */
  pii?: string[];
  description?: string;
  /**
   * What a user-flow read answers when the provider cannot: only for safe reads (`idempotency: 'safe'`;
   * `defineIntegration` refuses it elsewhere). Applies when the runtime has a fallback cache
   * (`EngineOptions.fallbackCache`), for failures that mean the provider is unavailable (NetworkError,
   * Timeout, ServerError, RateLimited, CircuitOpen, KillSwitch). Every stale or default answer is logged
   * and counted as degraded.
   */
  fallback?: EndpointFallback;
  /**
   * What the provider charges per request, in its billing currency (e.g. `0.002` for 0.2 cents): counted per
   * request sent, retries included, as `integration_cost_total`. No cost is counted when unset.
   */
  pricePerCall?: number;
  /** Set by `graphql(...)`: the endpoint is a GraphQL operation POSTed to `path` (see `GraphqlOperation`). */
  graphql?: GraphqlOperation;
}

/**
 * A GraphQL operation, sent as `{ query, variables, operationName }`. Its answer is judged by the
 * GraphQL rules of the classification table (runtime/classify.ts): `errors` with no data by their
 * `extensions.code`, partial data by `partial`.
 */
export interface GraphqlOperation<V extends z.ZodType = z.ZodType> {
  /** The operation's document, e.g. `query Item($sku: ID!) { item(sku: $sku) { sku name } }`. */
  document: string;
  /** Read from the document; when declared, the two must agree. A mutation is a write (`key` or `lookup`). */
  operation: 'query' | 'mutation';
  /** Sent as `operationName`; required when the document holds several operations. */
  operationName?: string;
  /** Schema of the variables; required when the document declares any. The activity's input is `{ variables }`. */
  variables?: V;
  /**
   * An answer with both `data` and `errors`:
   * - `fail`: a failure, classified by its errors (a mutation's is `InvalidResponse`: it was applied, so a
   *   workflow step settles it like any unreadable write);
   * - `accept`: the activity returns `{ data, errors: [{ code, path }] }` (no messages: they may carry PII),
   *   logged and counted as a degraded answer (`integration_degraded_answers_total{reason="graphql-partial"}`).
   * @default 'fail'
   */
  partial: 'fail' | 'accept';
  /** The provider's own `extensions.code`s, e.g. `{ SKU_DISCONTINUED: 'RequestRejected' }`; they win over the kit's. */
  codes?: Record<string, GraphqlFailureType>;
}

export interface EndpointLookup {
  /** A safe read of the same integration, answering the effect or `null` (declare `notFound: 'null'`). */
  endpoint: string;
  /** Its input for a write sent with `key`, e.g. `(key) => ({ query: { correlationId: key } })`. */
  input: (key: string) => { params?: unknown; query?: unknown };
}

export interface EndpointFallback {
  /**
   * Keep the last good answer per input (params and query, hashed).
   * - `fresh`: for this long after it was stored, it is served without calling the provider at all.
   * - `stale`: for this long after freshness ends, it may still be served: at once while one
   *   background refresh fetches a new one (stale-while-revalidate), and for as long as that refresh
   *   fails (stale-if-error). After `fresh + stale` it is gone.
   */
  cache?: { fresh: Duration; stale: Duration };
  /** The answer when nothing usable is cached and the provider is unavailable; must match `response`. */
  default?: unknown;
}

type EndpointOptions<P, Q, B, R> = Partial<
  Omit<EndpointSpec, 'method' | 'path' | 'params' | 'query' | 'body' | 'response'>
> & {
  params?: P;
  query?: Q;
  body?: B;
  response: R;
};

function endpoint(method: HttpMethod) {
  return <
    R extends z.ZodType,
    P extends z.ZodType = z.ZodNever,
    Q extends z.ZodType = z.ZodNever,
    B extends z.ZodType = z.ZodNever,
  >(
    path: string,
    options: EndpointOptions<P, Q, B, R>,
  ): EndpointSpec<P, Q, B, R> => ({
    method,
    path,
    profile: 'background',
    notFound: 'fail',
    idempotency: method === 'GET' ? 'safe' : 'key',
    ...options,
  });
}

export const get = endpoint('GET');
export const post = endpoint('POST');
export const put = endpoint('PUT');
export const patch = endpoint('PATCH');
export const del = endpoint('DELETE');

type GraphqlOptions<D, V> = Partial<
  Omit<EndpointSpec, 'method' | 'path' | 'params' | 'query' | 'body' | 'response' | 'graphql'>
> &
  Partial<Pick<GraphqlOperation, 'operation' | 'operationName' | 'codes'>> & {
    document: string;
    variables?: V;
    /** Schema of `data` in a successful answer. A `data` that does not match is an `InvalidResponse`. */
    data: D;
  };

/** A GraphQL endpoint: its activity's input is `{ variables }`, its result the checked `data`. */
// Params, query and body stay undeclared (the unconstrained default): the input is `{ variables }` only.
export type GraphqlEndpointSpec<V extends z.ZodType, R extends z.ZodType> = EndpointSpec<
  z.ZodType,
  z.ZodType,
  z.ZodType,
  R
> & { graphql: GraphqlOperation<V> };

/**
 * A GraphQL operation POSTed to `path` (relative to the base URL, e.g. `graphql`) within an ordinary
 * HTTP integration: auth, idempotency, profiles, breaker, limiter and metrics apply as to any endpoint.
 * A query is a safe read; a mutation is a write (`key` by default). `defineIntegration` checks the
 * document against the rest of the declaration.
 */
export function graphql<D extends z.ZodType, V extends z.ZodType = z.ZodNever>(
  path: string,
  options: GraphqlOptions<D, V> & { partial?: 'fail' },
): GraphqlEndpointSpec<V, D>;
export function graphql<D extends z.ZodType, V extends z.ZodType = z.ZodNever>(
  path: string,
  options: GraphqlOptions<D, V> & { partial: 'accept' },
): GraphqlEndpointSpec<V, ReturnType<typeof partialResult<D>>>;
export function graphql(
  path: string,
  options: GraphqlOptions<z.ZodType, z.ZodType> & { partial?: 'fail' | 'accept' },
): GraphqlEndpointSpec<z.ZodType, z.ZodType> {
  const { document, variables, data, operation, operationName, codes, partial = 'fail', ...rest } = options;
  const scanned = scanDocument(document);
  // With several operations, only the declared operationName says which one is sent (validate.ts insists).
  const named =
    typeof scanned === 'string'
      ? undefined
      : operationName
        ? scanned.find((o) => o.name === operationName)
        : scanned.length === 1
          ? scanned[0]
          : undefined;
  // An unreadable document keeps the declared (or a query's) type here; defineIntegration reports it.
  const type = operation ?? (named?.type === 'mutation' ? 'mutation' : 'query');
  return {
    method: 'POST',
    path,
    profile: 'background',
    notFound: 'fail',
    idempotency: type === 'mutation' ? 'key' : 'safe',
    ...rest,
    response: partial === 'accept' ? partialResult(data) : data,
    graphql: { document, operation: type, operationName: operationName ?? named?.name, variables, partial, codes },
  };
}

export type AuthSpec =
  | { kind: 'none' }
  | {
      kind: 'apiKey';
      header: string;
      /** e.g. `Bearer` to send `Authorization: Bearer <key>`. */
      scheme?: string;
      key: SecretRef;
    }
  | {
      kind: 'oauth2ClientCredentials';
      /** Relative to the base URL, or absolute. */
      tokenUrl: string;
      clientId: SecretRef | EnvRef;
      clientSecret: SecretRef;
      scope?: string;
      /** Sent as `audience` (Auth0, Okta and others name the API the token is for this way). */
      audience?: string;
      /**
       * How the client authenticates to the token endpoint: HTTP Basic (`client_secret_basic`) or the
       * form's `client_id` / `client_secret` (`client_secret_post`). @default 'basic'
       */
      clientAuthentication?: 'basic' | 'post';
      /** Refresh this long before expiry while still serving the cached token. @default 60 s */
      refreshAhead?: Duration;
    };

export function apiKey(options: { header: string; key: SecretRef; scheme?: string }): AuthSpec {
  return { kind: 'apiKey', ...options };
}

export function oauth2ClientCredentials(
  options: Omit<Extract<AuthSpec, { kind: 'oauth2ClientCredentials' }>, 'kind'>,
): AuthSpec {
  return { kind: 'oauth2ClientCredentials', ...options };
}

/**
 * A two-step job's status check: which endpoint to poll and when its answer means "finished". From it
 * come two activities: `<integration><Poller>` polls every `interval` inside one heartbeating
 * execution (waits of seconds); `<integration><Poller>Once` checks once and fails `NotReady`, so
 * Temporal's retries do the waiting (minutes to hours).
 */
export interface PollerSpec {
  /** The endpoint to poll (a safe read); checked by `defineIntegration`. */
  endpoint: string;
  /** True when the status answer means the job is finished (successfully or not). */
  done: (result: unknown) => boolean;
  /** Gap between polls inside the heartbeating activity. @default 1 second */
  interval?: Duration;
}

export interface IntegrationSpec<E extends Record<string, EndpointSpec>> {
  /** Lower-case identifier: names the task queue (`integration-<name>`) and activities (`<name><Endpoint>`). */
  name: string;
  /** Version of the provider's API this definition speaks, e.g. `v1`. */
  version: string;
  purpose: string;
  /** The team that owns the integration here. */
  owner: string;
  /** The provider's support contact and escalation phone (shown by the catalog and the status page). */
  support?: SupportSpec;
  baseUrl: EnvRef;
  auth: AuthSpec;
  /** Client certificate for mTLS (PEM). */
  mtls?: { cert: SecretRef; key: SecretRef; ca?: SecretRef };
  idempotency?: {
    /** Header that carries the key, e.g. `Idempotency-Key` or `x-correlation-id`. */
    header: string;
    /** How long the provider remembers a key; every keyed endpoint's budget must end before it. */
    retention: Duration;
  };
  pool?: {
    /** @default 10 */
    connections?: number;
    /** Idle keep-alive. @default 4 seconds */
    keepAlive?: Duration;
    /** A connection is recycled after this long, so DNS changes and rebalanced backends are picked up. @default 1 minute */
    connectionTtl?: Duration;
    /** Response body cap, bytes. @default 1 MiB */
    maxResponseBytes?: number;
  };
  /** Applied to every endpoint that has none of its own. */
  errorPayload?: ErrorPayloadDetector;
  /** Body fields never logged, for every endpoint. */
  pii?: string[];
  /** A cheap endpoint the worker calls at start to check that credentials and TLS work. */
  hello?: keyof E & string;
  endpoints: E;
  /** Status checks of two-step jobs (trigger, then poll). */
  pollers?: Record<string, PollerSpec>;
  /** The shared circuit breaker (see src/control/integration-control.workflow.ts). */
  breaker?: BreakerSpec;
  /** Traffic shaping: how fast and how many calls at once. No limit when unset. */
  traffic?: TrafficSpec;
  /**
   * The most the integration should cost per day, in the same currency as its endpoints' `pricePerCall`:
   * exported as `integration_cost_budget_per_day`; the `IntegrationCostOverBudget` alert compares the
   * last 24 h of `integration_cost_total` with it.
   */
  costBudgetPerDay?: number;
  /**
   * Send the W3C `traceparent` header (our trace and span ids) on this integration's requests, so the
   * provider's own traces join ours. Only for a provider that is ours or has agreed to receive it: a trace
   * id tells a third party which of its requests belong to one of our operations. The attempt's span is
   * recorded either way (tracing on). @default false
   */
  propagateTraceContext?: boolean;
  /** The provider's public status page, polled in the background (see {@link StatusPageSpec}). */
  statusPage?: StatusPageSpec;
}

/**
 * A provider's status page in the Statuspage format (`/api/v2/summary.json`, what most providers publish).
 * The `watchProviderStatus` workflow polls it; an open incident shows in the catalog and status page, in the
 * control workflow, in alerts and in the details of the integration's parked workflows. Never a health
 * check before a call: calls go out as usual unless `preOpenBreaker` says otherwise.
 */
export interface StatusPageSpec {
  /** The variable that holds the page's `summary.json` URL. */
  url: EnvRef;
  /** Component names that concern this integration (e.g. `['API']`); every incident counts when unset. */
  components?: string[];
  /**
   * During a major or critical incident, user-flow calls fail fast with `CircuitOpen` (and take their
   * fallback) instead of waiting out a timeout; background calls go on, judged by the breaker. @default false
   */
  preOpenBreaker?: boolean;
  /** How often the page is read. @default 1 minute */
  pollEvery?: Duration;
}

/**
 * Limits of one integration's traffic. Set them below the provider's documented limit (e.g. 90 % of
 * it), so retries, the start-up check and clock skew between our count and theirs still fit.
 */
export interface TrafficSpec {
  /**
   * Calls per second. The integration's task queue dispatches no faster (Temporal's
   * `maxTaskQueueActivitiesPerSecond`: server-side, shared by every worker of the queue), and each
   * worker process paces its calls at most this fast, slowing down when the provider rate-limits
   * (see src/integrations/runtime/adaptive-limiter.ts).
   */
  ratePerSecond?: number;
  /** Calls in flight at once per worker process (`maxConcurrentActivityTaskExecutions`). */
  concurrency?: number;
  /**
   * The provider's published limit as its sliding window (e.g. 100 requests per minute). Each worker
   * process then mirrors that window (at most `limit` calls in flight or answered within `per`) and uses
   * its bursts, instead of spacing calls evenly: set `ratePerSecond` to the provider's rate
   * (`limit / per`), not below it. With a steady backlog, also declare `concurrency` (about `limit`, at
   * most what `ratePerSecond` sends in 10 s): tasks beyond it then wait in Temporal's queue rather than
   * being refused by the limiter and retried seconds later. See src/integrations/runtime/adaptive-limiter.ts.
   */
  window?: { limit: number; per: Duration };
}

export interface BreakerSpec {
  /** Consecutive "provider is unwell" failures that open it. @default 10 */
  failures?: number;
  /** How long it stays open before one probe is let through. @default 1 minute */
  cooldown?: Duration;
}

export type Integration<E extends Record<string, EndpointSpec> = Record<string, EndpointSpec>> = IntegrationSpec<E> & {
  /** The activity type of an endpoint: an API, stored in histories. */
  activityName(endpoint: keyof E & string): string;
  /** The activity types of a poller: heartbeating (`<name>`) and check-once (`<name>Once`). */
  pollerActivityName(poller: string, mode: 'heartbeat' | 'once'): string;
  profileOf(endpoint: keyof E & string): Profile;
};

/**
 * Integrations by name (`src/integrations/index.ts` is the project's): what configuration, activities,
 * queues and the catalog are derived from. Each key is its integration's `name`.
 */
export type IntegrationRegistry = Readonly<Record<string, Integration>>;

export class IntegrationDefinitionError extends Error {
  override readonly name = 'IntegrationDefinitionError';
}

/**
 * Validates a declaration up front, with messages that name the field, and returns it ready to use.
 * With an SFTP `transport` instead of a `baseUrl` it declares a file-drop integration (kit/file-drop.ts).
 */
export function defineIntegration<E extends Record<string, EndpointSpec>>(spec: IntegrationSpec<E>): Integration<E>;
export function defineIntegration<E extends Record<string, FileEndpointSpec>>(
  spec: FileDropSpec<E>,
): FileDropIntegration<E>;
export function defineIntegration(
  spec: IntegrationSpec<Record<string, EndpointSpec>> | FileDropSpec<Record<string, FileEndpointSpec>>,
): Integration | FileDropIntegration {
  const fail = (field: string, message: string): never => {
    throw new IntegrationDefinitionError(`integration "${spec.name}": ${field}: ${message}`);
  };
  if ('transport' in spec) return fileDropIntegration(spec, fail);
  return defineHttpIntegration(spec, fail);
}

function defineHttpIntegration<E extends Record<string, EndpointSpec>>(
  spec: IntegrationSpec<E>,
  fail: (field: string, message: string) => never,
): Integration<E> {
  validateIntegration(spec, fail);
  const capitalized = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
  return {
    ...spec,
    activityName: (endpoint) => `${spec.name}${capitalized(endpoint)}`,
    pollerActivityName: (poller, mode) => `${spec.name}${capitalized(poller)}${mode === 'once' ? 'Once' : ''}`,
    profileOf: (endpoint) => resolveProfile(spec.endpoints[endpoint]!.profile, spec.endpoints[endpoint]!.overrides),
  };
}

/** `true` when an endpoint declares no schema for a part (its type is the unconstrained default). */
type Undeclared<S> = S extends z.ZodType ? (unknown extends z.input<S> ? true : false) : true;

/**
 * The input of an endpoint's activity, typed from its schemas. `key` is the idempotency key the
 * workflow derived (see `stepKey`); writes without one are refused at call time.
 */
export type CallInput<S extends EndpointSpec> = {
  key?: string;
  /** Skip a declared fallback (cache or default): the provider's own answer, or its failure. */
  fresh?: boolean;
} & (Undeclared<S['params']> extends true ? { params?: never } : { params: z.input<NonNullable<S['params']>> }) &
  (Undeclared<S['query']> extends true ? { query?: never } : { query: z.input<NonNullable<S['query']>> }) &
  (Undeclared<S['body']> extends true ? { body?: never } : { body: z.input<NonNullable<S['body']>> }) &
  (S extends { graphql: GraphqlOperation<infer V> }
    ? [V] extends [z.ZodNever]
      ? { variables?: never }
      : { variables: z.input<V> }
    : { variables?: never });

/** The result of an endpoint's activity. With `notFound: 'null'`, declare the response `.nullable()`. */
export type CallOutput<S extends EndpointSpec> = z.output<S['response']>;
