/**
 * Failure types an integration call can end with. They are the `type` of the ApplicationFailure the
 * activity throws, so retry policies name them in `nonRetryableErrorTypes` and workflows branch on them.
 * Names are stored in histories and shown in the UI: they are an API, do not rename them.
 * Workflow-safe: no imports. What each one *means* (retry, breaker, fallback, operator, unknown outcome)
 * is the table `failureSemantics` below.
 */
export const FailureType = {
  /** Connection refused, DNS failure, connect timeout: the request never left. Retryable. */
  NetworkError: 'NetworkError',
  /** A write timed out, lost its connection after sending, or got a 502/504: it may or may not have been applied. */
  OutcomeUnknown: 'OutcomeUnknown',
  /** A read timed out or lost its connection: safe to retry. */
  Timeout: 'Timeout',
  /** 408 and 5xx (502/504 on a write are OutcomeUnknown instead). Retryable. */
  ServerError: 'ServerError',
  /** 429, or 503 with Retry-After. Retried after the delay the provider asked for (capped by the profile). */
  RateLimited: 'RateLimited',
  /** 400, 403, 405, 409, 410, 422 and other 4xx: our request is wrong; retrying will not help. */
  RequestRejected: 'RequestRejected',
  /** 404 on an endpoint that does not map it to a result. */
  NotFound: 'NotFound',
  /** 401 with credentials that were just refreshed, or that cannot be refreshed. */
  Unauthorized: 'Unauthorized',
  /** 401 with a cached token: the token is dropped and the next attempt fetches a new one. Retryable once. */
  CredentialsExpired: 'CredentialsExpired',
  /** The token endpoint or secret source is unreachable and no valid token is cached. Retryable. */
  AuthUnavailable: 'AuthUnavailable',
  /** A 2xx whose body is not JSON, fails its schema, or carries an error payload (`errors`, `ok:false`). */
  InvalidResponse: 'InvalidResponse',
  /** A body larger than the integration's cap. */
  ResponseTooLarge: 'ResponseTooLarge',
  /** A 3xx: redirects are not followed. */
  UnexpectedRedirect: 'UnexpectedRedirect',
  /** A polled job is not finished yet: retried on the poller's fixed interval until the deadline. */
  NotReady: 'NotReady',
  /** A polled job did not finish before its deadline. */
  DeadlineExceeded: 'DeadlineExceeded',
  /** The integration's circuit breaker is open: no request left. User flows take their fallback. */
  CircuitOpen: 'CircuitOpen',
  /** An operator switched the integration or endpoint off. User flows take their fallback; background work waits. */
  KillSwitch: 'KillSwitch',
  /** Base URL, secret or input that can never work (HTTP in production, a metadata address, a bad input). */
  Misconfigured: 'Misconfigured',
} as const;

export type FailureType = (typeof FailureType)[keyof typeof FailureType];

/**
 * Temporal's own activity timeouts, as the workflow sees them (`TimeoutFailure.timeoutType`, SDK >= 1.24:
 * `START_TO_CLOSE`, not the proto's `TIMEOUT_TYPE_START_TO_CLOSE`). The step logic names them
 * `Timeout:<kind>` so they sit in the same table as the failure types.
 */
export const TemporalTimeout = {
  StartToClose: 'Timeout:START_TO_CLOSE',
  ScheduleToClose: 'Timeout:SCHEDULE_TO_CLOSE',
  ScheduleToStart: 'Timeout:SCHEDULE_TO_START',
  Heartbeat: 'Timeout:HEARTBEAT',
} as const;
export type TemporalTimeout = (typeof TemporalTimeout)[keyof typeof TemporalTimeout];

/** `Timeout:<kind>` for a Temporal timeout type, accepting the proto's `TIMEOUT_TYPE_` spelling too. */
export function temporalTimeout(timeoutType: string | undefined): string {
  return `Timeout:${(timeoutType ?? 'UNKNOWN').replace(/^TIMEOUT_TYPE_/, '')}`;
}

/** What a failure means, for every part that must decide something about it. */
export interface FailureSemantics {
  /** A retry policy may retry it (false: in every profile's `nonRetryableErrorTypes`). */
  retryable: boolean;
  /**
   * What it says about the provider's health, for the circuit breaker: `unwell` counts towards opening
   * it; `answered` proves the provider is up (resets the count, closes a half-open breaker); `neutral`
   * says nothing (no request reached the provider, or Temporal gave up), and is not reported.
   */
  breaker: 'unwell' | 'answered' | 'neutral';
  /** The provider cannot answer now: a user-flow read's declared fallback may answer instead. */
  fallback: boolean;
  /** An operator can fix the cause (credentials, configuration): the step parks instead of failing. */
  operatorFixable: boolean;
  /**
   * On a write, the effect may or may not have been applied: the step reconciles (lookup, or resend with
   * the same key) or parks; it is never taken as "did not happen".
   */
  ambiguousOnWrite: boolean;
}

const row = (
  retryable: boolean,
  breaker: FailureSemantics['breaker'],
  flags: Partial<Omit<FailureSemantics, 'retryable' | 'breaker'>> = {},
): FailureSemantics => ({
  retryable,
  breaker,
  fallback: flags.fallback ?? false,
  operatorFixable: flags.operatorFixable ?? false,
  ambiguousOnWrite: flags.ambiguousOnWrite ?? false,
});

/**
 * The failure-semantics table: the one place that says what each failure means. Every set the engine,
 * the control plane, the retry policies and the workflow steps use is derived from it.
 */
export const failureSemantics: Record<FailureType | TemporalTimeout, FailureSemantics> = {
  // Nothing left our side: safe to resend; the provider may be down.
  [FailureType.NetworkError]: row(true, 'unwell', { fallback: true }),
  // The request left and no usable answer came back: the write may have been applied.
  [FailureType.OutcomeUnknown]: row(true, 'unwell', { ambiguousOnWrite: true }),
  // Only reads time out this way (a write's timeout is OutcomeUnknown): ask again.
  [FailureType.Timeout]: row(true, 'unwell', { fallback: true }),
  [FailureType.ServerError]: row(true, 'unwell', { fallback: true }),
  // The provider answered, and asked us to slow down: it is up.
  [FailureType.RateLimited]: row(true, 'answered', { fallback: true }),
  [FailureType.RequestRejected]: row(false, 'answered'),
  [FailureType.NotFound]: row(false, 'answered'),
  // Credentials: only an operator can fix them; the provider itself answered.
  [FailureType.Unauthorized]: row(false, 'answered', { operatorFixable: true }),
  [FailureType.CredentialsExpired]: row(true, 'answered'),
  // Our token endpoint or secret source: says nothing about the provider's API.
  [FailureType.AuthUnavailable]: row(true, 'neutral', { operatorFixable: true }),
  // A 2xx we cannot use: on a write, the provider did apply something we cannot read.
  [FailureType.InvalidResponse]: row(false, 'answered', { ambiguousOnWrite: true }),
  [FailureType.ResponseTooLarge]: row(false, 'answered', { ambiguousOnWrite: true }),
  [FailureType.UnexpectedRedirect]: row(false, 'answered'),
  [FailureType.NotReady]: row(true, 'answered'),
  [FailureType.DeadlineExceeded]: row(false, 'neutral'),
  // Refused before sending. Retryable for background work; user flows fail fast (the gate says so per call).
  [FailureType.CircuitOpen]: row(true, 'neutral', { fallback: true }),
  [FailureType.KillSwitch]: row(true, 'neutral', { fallback: true }),
  [FailureType.Misconfigured]: row(false, 'neutral', { operatorFixable: true }),
  // Temporal gave up waiting: an attempt may have been in flight, or its worker crashed mid-request.
  [TemporalTimeout.StartToClose]: row(true, 'neutral', { ambiguousOnWrite: true }),
  [TemporalTimeout.ScheduleToClose]: row(false, 'neutral', { ambiguousOnWrite: true }),
  [TemporalTimeout.ScheduleToStart]: row(false, 'neutral', { ambiguousOnWrite: true }),
  [TemporalTimeout.Heartbeat]: row(true, 'neutral', { ambiguousOnWrite: true }),
};

/**
 * A failure type the table does not know (an activity that crashed with a plain Error, a future type):
 * assume the worst on a write, and nothing about the provider.
 */
const unknownFailure: FailureSemantics = row(true, 'neutral', { ambiguousOnWrite: true });

export function semanticsOf(type: string | null | undefined): FailureSemantics {
  return (typeof type === 'string' && (failureSemantics as Record<string, FailureSemantics>)[type]) || unknownFailure;
}

const typesWhere = (test: (s: FailureSemantics) => boolean): FailureType[] =>
  (Object.values(FailureType) as FailureType[]).filter((type) => test(failureSemantics[type]));

/** Failure types that no retry can fix, whatever the profile: every retry policy's `nonRetryableErrorTypes`. */
export const alwaysNonRetryable: FailureType[] = typesWhere((s) => !s.retryable);

/** What the activity attaches as the failure's details: readable in the UI, no secrets, no bodies. */
export interface CallFailureDetails {
  integration: string;
  endpoint: string;
  method: string;
  /** Origin and path; never the query string. */
  url: string;
  status?: number;
  /** undici / Node error code for transport failures, e.g. `UND_ERR_HEADERS_TIMEOUT`. */
  code?: string;
  /** The activity attempt that failed (1-based): a write that fails after a retry may have been applied earlier. */
  attempt: number;
  idempotencyKey?: string;
}
