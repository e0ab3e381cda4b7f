import { durationMs } from '../kit/duration';
import type { EndpointSpec, ErrorPayloadDetector } from '../kit/define';
import { FailureType } from '../kit/failures';
import type { GraphqlErrorRef, GraphqlFailureType } from '../kit/graphql';
import type { Profile } from '../kit/profiles';

/** What one HTTP attempt produced, before any judgement. */
export type Outcome =
  | {
      kind: 'transport';
      /** undici / Node error code, e.g. `ECONNREFUSED`, `UND_ERR_HEADERS_TIMEOUT`. */
      code: string;
      message: string;
      /** Whether any of the request can have reached the provider. */
      sent: boolean;
    }
  | {
      kind: 'response';
      status: number;
      headers: Record<string, string | string[] | undefined>;
      /** Empty when `oversized`. */
      body: string;
      /** The body passed the integration's cap and was not read. */
      oversized?: boolean;
    };

export type Verdict =
  | {
      ok: true;
      value: unknown;
      /** An answer that is not the whole answer (GraphQL partial data, accepted): logged and counted. */
      degraded?: string;
    }
  | {
      ok: false;
      type: FailureType;
      message: string;
      /** false: no retry policy may retry it. */
      retryable: boolean;
      /** Overrides the retry policy's backoff for the next attempt. */
      nextRetryDelayMs?: number;
      /** Set when a 2xx JSON body failed the endpoint's response schema: where and how (never a value). */
      schemaIssues?: SchemaIssue[];
    };

/** One zod issue of a response that failed its schema: the field's path and zod's issue code, no value. */
export interface SchemaIssue {
  /** Dotted path, `(root)` for the body itself, e.g. `items.3.email`. */
  path: string;
  /** zod's issue code: `invalid_type`, `invalid_value`, `unrecognized_keys`, ... */
  code: string;
}

/** The issues of a failed parse, as drift samples and fixtures keep them (at most 20). */
export function schemaIssuesOf(error: {
  issues: readonly { path: readonly PropertyKey[]; code: string }[];
}): SchemaIssue[] {
  return error.issues.slice(0, 20).map((i) => ({ path: i.path.map(String).join('.') || '(root)', code: i.code }));
}

export interface ClassifyContext {
  spec: EndpointSpec;
  profile: Profile;
  /** 1-based attempt number of this activity execution. */
  attempt: number;
  /** Whether a 401 can be cured by fetching new credentials (OAuth2, and not already just refreshed). */
  credentialsRefreshable: boolean;
  errorPayload?: ErrorPayloadDetector;
  now?: () => number;
  random?: () => number;
}

/** Node's codes for a server certificate it refuses to trust: always raised before the request is written. */
export const tlsVerificationCodes = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_REVOKED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

type Response = Extract<Outcome, { kind: 'response' }>;
type Transport = Extract<Outcome, { kind: 'transport' }>;
type Rule = { when: (o: Outcome, c: ClassifyContext) => boolean; verdict: (o: Outcome, c: ClassifyContext) => Verdict };

const isTransport = (o: Outcome): o is Transport => o.kind === 'transport';
const isResponse = (o: Outcome): o is Response => o.kind === 'response';
const status = (o: Outcome) => (isResponse(o) ? o.status : 0);
const isWrite = (c: ClassifyContext) => c.spec.idempotency !== 'safe';

const fail = (type: FailureType, message: string, retryable: boolean, nextRetryDelayMs?: number): Verdict => ({
  ok: false,
  type,
  message,
  retryable,
  nextRetryDelayMs,
});

/** A retryable failure, with a jittered backoff delay when the profile asks for jitter. */
const retry = (type: FailureType, message: string, c: ClassifyContext): Verdict =>
  fail(
    type,
    message,
    true,
    c.profile.jitter ? backoffDelayMs(c.profile, c.attempt, c.random ?? Math.random) : undefined,
  );

/**
 * The classification table: the first rule that matches decides. Order matters; each line says why.
 */
const rules: Rule[] = [
  // Our side refused the provider's TLS certificate before sending anything: a retry meets the same
  // certificate, and it may be an impostor. An operator has to look.
  {
    when: (o) => isTransport(o) && tlsVerificationCodes.has(o.code),
    verdict: (o) =>
      fail(
        FailureType.Misconfigured,
        `provider's TLS certificate not trusted (${(o as Transport).code}): check the integration's CA`,
        false,
      ),
  },
  // The request never left (refused, DNS, connect timeout): safe to retry whatever the method.
  {
    when: (o) => isTransport(o) && !o.sent,
    verdict: (o, c) => retry(FailureType.NetworkError, `request not sent: ${(o as Transport).code}`, c),
  },
  // A write that may have left and got no answer: it may have been applied. The workflow reconciles;
  // the retry policy resends only when the endpoint carries an idempotency key.
  {
    when: (o, c) => isTransport(o) && isWrite(c),
    verdict: (o, c) =>
      retry(
        FailureType.OutcomeUnknown,
        `no answer after the request was sent (${(o as Transport).code}): outcome unknown`,
        c,
      ),
  },
  // A read that lost its answer: just ask again.
  {
    when: isTransport,
    verdict: (o, c) => retry(FailureType.Timeout, `no answer (${(o as Transport).code})`, c),
  },
  // Redirects are not followed: a provider moving endpoints is a change to review, not to chase.
  {
    when: (o) => status(o) >= 300 && status(o) < 400,
    verdict: (o) =>
      fail(
        FailureType.UnexpectedRedirect,
        `redirect ${status(o)} to ${header(o as Response, 'location') ?? '?'} not followed`,
        false,
      ),
  },
  // Rate limited: wait as long as the provider asks (capped by the profile), else back off.
  {
    when: (o) => status(o) === 429,
    verdict: (o, c) => rateLimited(o as Response, c),
  },
  // 503 with Retry-After is the provider telling us when to come back.
  {
    when: (o) => status(o) === 503 && header(o as Response, 'retry-after') !== undefined,
    verdict: (o, c) => rateLimited(o as Response, c),
  },
  // A gateway error on a write: the provider may have applied it behind the gateway (API People's 180 s
  // 504; a 502 from a gateway whose upstream died mid-response is just as ambiguous).
  {
    when: (o, c) => (status(o) === 504 || status(o) === 502) && isWrite(c),
    verdict: (o, c) => retry(FailureType.OutcomeUnknown, `gateway error (${status(o)}) on a write: outcome unknown`, c),
  },
  // Transient server trouble: retry with backoff.
  {
    when: (o) => status(o) === 408 || status(o) >= 500,
    verdict: (o, c) => retry(FailureType.ServerError, `provider answered ${status(o)}`, c),
  },
  // Credentials rejected: a cached OAuth token may just have been revoked; fetch a new one once.
  {
    when: (o, c) => status(o) === 401 && c.credentialsRefreshable,
    verdict: () =>
      fail(FailureType.CredentialsExpired, 'credentials rejected (401); a new token will be fetched', true),
  },
  {
    when: (o) => status(o) === 401,
    verdict: () => fail(FailureType.Unauthorized, 'credentials rejected (401): check the integration’s secrets', false),
  },
  // Not found can be an answer (a lookup that found nothing) ...
  {
    when: (o, c) => status(o) === 404 && c.spec.notFound === 'null',
    verdict: () => ({ ok: true, value: null }),
  },
  // ... or a mistake in our request.
  {
    when: (o) => status(o) === 404,
    verdict: () => fail(FailureType.NotFound, 'provider answered 404', false),
  },
  // Any other 4xx (400, 403, 409, 422, ...) is our fault: a retry would be rejected the same way.
  {
    when: (o) => status(o) >= 400,
    verdict: (o) => fail(FailureType.RequestRejected, `provider rejected the request (${status(o)})`, false),
  },
  // A status outside the endpoint's success list (1xx, an unexpected 2xx).
  {
    when: (o, c) =>
      c.spec.successStatus ? !c.spec.successStatus.includes(status(o)) : status(o) < 200 || status(o) >= 300,
    verdict: (o) => fail(FailureType.InvalidResponse, `unexpected status ${status(o)}`, false),
  },
  // A success body over the cap will not shrink on a retry (error bodies were judged by status above).
  {
    when: (o) => isResponse(o) && !!o.oversized,
    verdict: () => fail(FailureType.ResponseTooLarge, 'response body exceeds the integration cap', false),
  },
  // A 200 from a proxy's HTML error page, or anything that is not JSON.
  {
    when: (o) =>
      (o as Response).body !== '' &&
      !/^application\/([\w.+-]*\+)?json\b/i.test(header(o as Response, 'content-type') ?? ''),
    verdict: (o) =>
      fail(
        FailureType.InvalidResponse,
        `expected JSON, got ${header(o as Response, 'content-type') ?? 'no content type'}`,
        false,
      ),
  },
  // Everything left is judged on the parsed body.
  { when: () => true, verdict: (o, c) => judgeBody(o as Response, c) },
];

/** Runs the table. Pure: the same outcome and context give the same verdict. */
export function classify(outcome: Outcome, context: ClassifyContext): Verdict {
  for (const rule of rules) if (rule.when(outcome, context)) return rule.verdict(outcome, context);
  throw new Error('unreachable: the last classification rule matches everything');
}

function judgeBody(o: Response, c: ClassifyContext): Verdict {
  let body: unknown;
  if (o.body !== '') {
    try {
      body = JSON.parse(o.body);
    } catch {
      return fail(FailureType.InvalidResponse, 'response body is not valid JSON', false);
    }
  }
  if (c.spec.graphql) return judgeGraphql(o, body, c);
  // A 200 is not a success until the body says so.
  const embedded = (c.spec.errorPayload ?? c.errorPayload ?? defaultErrorPayload)(body);
  if (embedded !== undefined)
    return fail(FailureType.InvalidResponse, `error inside a ${o.status} response: ${embedded}`, false);
  return checked(c, body);
}

/** The value when it matches the endpoint's response schema; an `InvalidResponse` naming the first issues when not. */
function checked(c: ClassifyContext, value: unknown, degraded?: string): Verdict {
  const parsed = c.spec.response.safeParse(value);
  if (!parsed.success) {
    const issues = parsed.error.issues.slice(0, 3).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    return {
      ok: false,
      type: FailureType.InvalidResponse,
      message: `response does not match its schema: ${issues.join('; ')}`,
      retryable: false,
      schemaIssues: schemaIssuesOf(parsed.error),
    };
  }
  return degraded ? { ok: true, value: parsed.data, degraded } : { ok: true, value: parsed.data };
}

/**
 * The `extensions.code`s GraphQL servers use (Apollo Server's, and the rate-limit codes of GitHub and
 * Shopify), as failure types. A code not listed here nor in the endpoint's `codes`, or no code at all,
 * is the provider's trouble: `ServerError`, as an HTTP 500 is.
 */
export const graphqlErrorCodes: Readonly<Record<string, GraphqlFailureType>> = {
  UNAUTHENTICATED: FailureType.Unauthorized,
  // HTTP's 403 is a rejected request too: a retry is refused the same way.
  FORBIDDEN: FailureType.RequestRejected,
  BAD_USER_INPUT: FailureType.RequestRejected,
  BAD_REQUEST: FailureType.RequestRejected,
  GRAPHQL_VALIDATION_FAILED: FailureType.RequestRejected,
  GRAPHQL_PARSE_FAILED: FailureType.RequestRejected,
  OPERATION_RESOLUTION_FAILURE: FailureType.RequestRejected,
  PERSISTED_QUERY_NOT_SUPPORTED: FailureType.RequestRejected,
  NOT_FOUND: FailureType.NotFound,
  RATE_LIMITED: FailureType.RateLimited,
  THROTTLED: FailureType.RateLimited,
  TOO_MANY_REQUESTS: FailureType.RateLimited,
  INTERNAL_SERVER_ERROR: FailureType.ServerError,
  SERVICE_UNAVAILABLE: FailureType.ServerError,
};

/** When errors disagree, the first of these wins: what no retry can fix before what a retry may. */
const graphqlPrecedence: readonly GraphqlFailureType[] = [
  FailureType.Unauthorized,
  FailureType.RequestRejected,
  FailureType.NotFound,
  FailureType.RateLimited,
  FailureType.ServerError,
];

type GraphqlError = GraphqlErrorRef & { type: GraphqlFailureType; retryAfterMs?: number };

/**
 * The GraphQL rows, for a 2xx JSON body (every status was judged above, as for any endpoint):
 * 1. no `data` and no `errors`, or `errors` that is not a list: not a GraphQL answer (`InvalidResponse`);
 * 2. `data` and no errors: the data, checked against its schema (partial data: some root field is not null);
 * 3. `data` with `errors`, declared `partial: 'accept'`: the data and the errors' codes and paths, degraded;
 * 4. `data` with `errors` on a mutation: it was applied, and not all of it can be read (`InvalidResponse`,
 *    which a workflow step settles on a write: lookup or park);
 * 5. otherwise (no data, or partial data under `partial: 'fail'`): the errors' codes decide (`graphqlErrorCodes`).
 * Messages carry codes and paths, never the provider's messages: they may quote our input (PII).
 */
function judgeGraphql(o: Response, body: unknown, c: ClassifyContext): Verdict {
  const op = c.spec.graphql!;
  const envelope = body && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
  const rawErrors = envelope.errors;
  if (rawErrors !== undefined && !Array.isArray(rawErrors))
    return fail(FailureType.InvalidResponse, 'GraphQL `errors` is not a list', false);
  if (!('data' in envelope) && !(rawErrors as unknown[] | undefined)?.length)
    return fail(FailureType.InvalidResponse, 'not a GraphQL answer: neither `data` nor `errors`', false);
  // Partial data: some root field answered. `{ item: null }` with errors is the errors' answer alone.
  const data = envelope.data;
  const hasData =
    !!data && typeof data === 'object' && Object.values(data as Record<string, unknown>).some((v) => v !== null);
  const errors = ((rawErrors as unknown[] | undefined) ?? []).map((e) => graphqlError(e, op.codes, o, c));
  const answer = (value: unknown) => checked(c, op.partial === 'accept' ? { data: value, errors: [] } : value);
  if (errors.length === 0) return answer(data);
  const refs = errors.map(({ code, path }) => ({ ...(code ? { code } : {}), ...(path ? { path } : {}) }));
  const summary = describeErrors(errors);
  if (hasData && op.partial === 'accept') return checked(c, { data, errors: refs }, 'graphql-partial');
  // A mutation that answered in part was applied, and we cannot read all of it: settle it, never resend blind.
  if (hasData && op.operation === 'mutation')
    return fail(FailureType.InvalidResponse, `partial data from a mutation: ${summary}`, false);
  const type = graphqlPrecedence.find((t) => errors.some((e) => e.type === t)) ?? FailureType.ServerError;
  const what = `GraphQL errors in a ${o.status} answer: ${summary}`;
  switch (type) {
    case FailureType.Unauthorized:
      return c.credentialsRefreshable
        ? fail(FailureType.CredentialsExpired, `${what}; a new token will be fetched`, true)
        : fail(FailureType.Unauthorized, `${what}: check the integration’s secrets`, false);
    case FailureType.NotFound:
      // Declared `notFound: 'null'`: nothing found is an answer, the data with its nulls (null without data).
      if (c.spec.notFound === 'null' && errors.every((e) => e.type === FailureType.NotFound))
        return data === undefined || data === null ? { ok: true, value: null } : answer(data);
      return fail(FailureType.NotFound, what, false);
    case FailureType.RequestRejected:
      return fail(FailureType.RequestRejected, what, false);
    case FailureType.RateLimited: {
      const asked = errors.find((e) => e.retryAfterMs !== undefined)?.retryAfterMs;
      return asked === undefined
        ? retry(FailureType.RateLimited, `${what}, no retry-after`, c)
        : waitAsAsked(asked, what, c);
    }
    default:
      return retry(FailureType.ServerError, what, c);
  }
}

/**
 * One error of a GraphQL answer: its code, path and failure type, and for a rate limit how long the
 * provider asks us to wait (`extensions.retryAfter` in seconds, `extensions.retryAfterMs`, else the
 * `Retry-After` header).
 */
function graphqlError(
  raw: unknown,
  codes: Record<string, GraphqlFailureType> | undefined,
  o: Response,
  c: ClassifyContext,
): GraphqlError {
  const error = raw && typeof raw === 'object' ? (raw as { path?: unknown; extensions?: unknown }) : {};
  const extensions =
    error.extensions && typeof error.extensions === 'object' ? (error.extensions as Record<string, unknown>) : {};
  const code = typeof extensions.code === 'string' ? extensions.code : undefined;
  const path =
    Array.isArray(error.path) && error.path.every((p) => typeof p === 'string' || typeof p === 'number')
      ? error.path
      : undefined;
  const type = (code && (codes?.[code] ?? graphqlErrorCodes[code])) || FailureType.ServerError;
  const seconds = Number(extensions.retryAfter);
  const ms = Number(extensions.retryAfterMs);
  const retryAfterMs =
    type !== FailureType.RateLimited
      ? undefined
      : Number.isFinite(ms) && ms >= 0 && extensions.retryAfterMs !== undefined
        ? ms
        : Number.isFinite(seconds) && seconds >= 0 && extensions.retryAfter !== undefined
          ? seconds * 1000
          : parseRetryAfter(header(o, 'retry-after'), (c.now ?? Date.now)());
  return { code, path, type, retryAfterMs };
}

/** `UNAUTHENTICATED at item.price; (no code) at item`: at most three, codes and paths only. */
function describeErrors(errors: readonly GraphqlError[]): string {
  const shown = errors
    .slice(0, 3)
    .map((e) => `${e.code ?? '(no code)'}${e.path ? ` at ${e.path.join('.')}` : ''}`)
    .join('; ');
  return errors.length > 3 ? `${shown} and ${errors.length - 3} more` : shown;
}

/** GraphQL's `errors` array and the `{ ok: false }` convention (Slack and many others). */
export const defaultErrorPayload: ErrorPayloadDetector = (body) => {
  if (!body || typeof body !== 'object') return undefined;
  const b = body as { errors?: unknown; ok?: unknown; error?: unknown };
  if (Array.isArray(b.errors) && b.errors.length > 0) {
    const first = b.errors[0] as { message?: unknown };
    return `errors[0]: ${typeof first?.message === 'string' ? first.message : JSON.stringify(first)}`;
  }
  if (b.ok === false) return `ok: false${typeof b.error === 'string' ? ` (${b.error})` : ''}`;
  return undefined;
};

function rateLimited(o: Response, c: ClassifyContext): Verdict {
  const raw = header(o, 'retry-after');
  const asked = parseRetryAfter(raw, (c.now ?? Date.now)());
  if (asked === undefined) {
    return retry(
      FailureType.RateLimited,
      `rate limited (${o.status}), ${raw === undefined ? 'no' : 'unreadable'} Retry-After`,
      c,
    );
  }
  return waitAsAsked(asked, `rate limited (${o.status})`, c);
}

/** A `RateLimited` retried after the wait the provider asked for, capped by the profile. */
function waitAsAsked(asked: number, what: string, c: ClassifyContext): Verdict {
  let delay = Math.min(asked, durationMs(c.profile.maxRetryAfter));
  // Spread the herd: many workflows told "retry in 10 s" should not all come back in the same millisecond.
  if (c.profile.jitter) delay += Math.round(delay * 0.1 * (c.random ?? Math.random)());
  return fail(FailureType.RateLimited, `${what}; provider asked to wait ${asked} ms`, true, Math.max(delay, 1));
}

/** Retry-After as delta-seconds or an HTTP-date, in ms from `now`; undefined when absent or malformed. */
export function parseRetryAfter(value: string | undefined, now: number): number | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  // HTTP-date (RFC 9110 IMF-fixdate, e.g. "Sun, 06 Nov 1994 08:49:37 GMT"); Date.parse alone is too lenient.
  if (!/^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/.test(v)) return undefined;
  const date = Date.parse(v);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** Exponential backoff from the profile's retry policy, with "equal jitter": half fixed, half random. */
export function backoffDelayMs(profile: Profile, attempt: number, random: () => number): number {
  const initial = durationMs(profile.retry.initialInterval ?? '1 second');
  const max = durationMs(profile.retry.maximumInterval ?? initial * 100);
  const base = Math.min(max, initial * (profile.retry.backoffCoefficient ?? 2) ** Math.max(0, attempt - 1));
  return Math.max(1, Math.round(base / 2 + (base / 2) * random()));
}

function header(o: Response, name: string): string | undefined {
  const v = o.headers[name];
  return Array.isArray(v) ? v[0] : v;
}
