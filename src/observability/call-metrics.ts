/**
 * What the engine, the limiter, the token caches and the control plane tell about the calls they see.
 * An interface with a no-op default, so the engine knows nothing of Prometheus and unit tests pass nothing;
 * the worker passes the prom-client implementation (`WorkerMetrics.calls`, src/observability/metrics.ts).
 *
 * Every field is a bounded label: integration and endpoint names come from the declarations, outcomes
 * and reasons from the failure table. Never an ID, a key, a URL with parameters or customer data.
 */
export interface CallMetrics {
  /** A call came back through the call path: answered, failed, or held back before sending. */
  callFinished(event: CallFinished): void;
  /** The adaptive limiter let a call go after `waitedMs` (0: at once), or refused it (`admitted: false`). */
  limiterAdmission(event: { integration: string; admitted: boolean; waitedMs: number }): void;
  /** A degraded answer was served: stale or default instead of the provider's, or its accepted partial data. */
  degradedAnswer(event: { integration: string; endpoint: string; reason: string }): void;
  /** An OAuth2 token was fetched (`outcome: 'ok'`) or could not be (`outcome`: the failure type). */
  tokenRefresh(event: { integration: string; outcome: string }): void;
  /**
   * An answer drifted from its endpoint's declaration: a 2xx that failed the response schema
   * (`schema`), or a dark-launched version's answer that disagreed with the primary's (`dark_launch`).
   */
  schemaDrift(event: { integration: string; endpoint: string; source: 'schema' | 'dark_launch' }): void;
  /** The control state this worker read for an integration (every read, about once a second). */
  controlState(event: ControlStateSeen): void;
}

export interface CallFinished {
  integration: string;
  endpoint: string;
  /** `ok`, or the failure type (`ServerError`, `CircuitOpen`, ...). */
  outcome: string;
  /** 1-based attempt of the activity execution: above 1 is a retry. */
  attempt: number;
  /** Whether a request left for the provider (false: held back by the breaker, a kill switch, the limiter, bad input). */
  sent: boolean;
  /** The provider's HTTP status, when it answered (any status: the 4xx report's counts and totals). */
  status?: number;
  /** Duration of the attempt past the gate (prepare, authenticate, send, classify), when it got that far. */
  attemptMs?: number;
  /** The endpoint's declared price per call, counted when a request was sent. */
  pricePerCall?: number;
  /** The provider's rate-limit headers, when its answer carried them. */
  rateLimit?: { remaining?: number; limit?: number };
}

export interface ControlStateSeen {
  integration: string;
  /** `closed`, `open` or `half-open` (open past its cooldown: one probe may go). */
  breaker: 'closed' | 'open' | 'half-open';
  /** Endpoints switched off; `*` for the whole integration. */
  killSwitches: string[];
  /** `control`: read from the integration's control workflow; `local`: the worker's own fallback breaker. */
  source: 'control' | 'local';
  /** The impact of each open incident the provider's status page reports (read from the control state). */
  providerIncidents?: string[];
}

/** Tells nothing to anyone: the default of every component that takes a `CallMetrics`. */
export const noCallMetrics: CallMetrics = {
  callFinished: () => undefined,
  limiterAdmission: () => undefined,
  degradedAnswer: () => undefined,
  tokenRefresh: () => undefined,
  controlState: () => undefined,
  schemaDrift: () => undefined,
};
