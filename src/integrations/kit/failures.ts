/**
 * Failure types an integration call can end with. They are the `type` of the ApplicationFailure the
 * activity throws, so retry policies name them in `nonRetryableErrorTypes` and workflows branch on them.
 * Names are stored in histories and shown in the UI: they are an API, do not rename them.
 * Workflow-safe: no imports.
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

/** Failure types that no retry can fix, whatever the profile. */
export const alwaysNonRetryable: FailureType[] = [
  FailureType.RequestRejected,
  FailureType.NotFound,
  FailureType.Unauthorized,
  FailureType.InvalidResponse,
  FailureType.ResponseTooLarge,
  FailureType.UnexpectedRedirect,
  FailureType.Misconfigured,
];

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
  attempt: number;
  idempotencyKey?: string;
}
