import type { ActivityOptions, Duration, RetryPolicy } from '@temporalio/common';
import { FailureType, alwaysNonRetryable } from './failures';

/**
 * How an endpoint is called, in clock time. Workflow-safe: pure data and arithmetic.
 *
 * - `userFlow`: a human is waiting. Short timeouts, at most one retry, a few seconds in all.
 * - `background`: nobody waits. Long budget, exponential backoff with jitter, no fail-fast.
 */
export interface Profile {
  name: 'userFlow' | 'background';
  /** One HTTP attempt, connect to last byte: Temporal's start-to-close for the activity. */
  startToClose: Duration;
  /** Clock-time budget for all attempts together: past it the workflow reconciles or parks. */
  scheduleToClose: Duration;
  /** Heartbeat timeout, for endpoints that heartbeat (polling, pagination). */
  heartbeatTimeout?: Duration;
  retry: RetryPolicy;
  /** TCP connect timeout. */
  connectTimeout: Duration;
  /** Time to the response headers (undici's default of 300 s is far too long). */
  headersTimeout: Duration;
  /** Max gap between body chunks. */
  bodyTimeout: Duration;
  /** Upper bound on a provider's Retry-After we honour; longer asks are capped to it. */
  maxRetryAfter: Duration;
  /** Whether retry delays get random jitter (background work must not retry in lockstep). */
  jitter: boolean;
}

// HTTP timeouts sit well inside start-to-close so an attempt ends with our classified failure
// (e.g. OutcomeUnknown) rather than Temporal's bare timeout: undici's timers tick coarsely (~1 s).
export const userFlow: Profile = {
  name: 'userFlow',
  startToClose: '4 seconds',
  scheduleToClose: '10 seconds',
  retry: { initialInterval: '300 ms', backoffCoefficient: 2, maximumInterval: '1 second', maximumAttempts: 2 },
  connectTimeout: '1 second',
  headersTimeout: '2 seconds',
  bodyTimeout: '1 second',
  maxRetryAfter: '2 seconds',
  jitter: false,
};

export const background: Profile = {
  name: 'background',
  startToClose: '30 seconds',
  scheduleToClose: '1 hour',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '5 minutes' },
  connectTimeout: '5 seconds',
  headersTimeout: '20 seconds',
  bodyTimeout: '5 seconds',
  maxRetryAfter: '10 minutes',
  jitter: true,
};

export const profiles = { userFlow, background } as const;
export type ProfileName = keyof typeof profiles;

/** Per-endpoint changes to its profile. */
export type ProfileOverrides = Partial<Omit<Profile, 'name' | 'retry'>> & { retry?: Partial<RetryPolicy> };

export function resolveProfile(name: ProfileName, overrides: ProfileOverrides = {}): Profile {
  const base = profiles[name];
  return { ...base, ...overrides, name: base.name, retry: { ...base.retry, ...overrides.retry } };
}

/**
 * The activity options for an endpoint. `OutcomeUnknown` is retried only when a retry is safe: the
 * endpoint sends an idempotency key. Otherwise the workflow must reconcile (look up) first.
 */
export function activityOptions(
  profile: Profile,
  opts: { taskQueue: string; retryUnknownOutcome: boolean },
): ActivityOptions {
  const nonRetryable: string[] = [...alwaysNonRetryable];
  if (!opts.retryUnknownOutcome) nonRetryable.push(FailureType.OutcomeUnknown);
  return {
    taskQueue: opts.taskQueue,
    startToCloseTimeout: profile.startToClose,
    scheduleToCloseTimeout: profile.scheduleToClose,
    heartbeatTimeout: profile.heartbeatTimeout,

    retry: {
      ...profile.retry,
      nonRetryableErrorTypes: [...nonRetryable, ...(profile.retry.nonRetryableErrorTypes ?? [])],
    },
  };
}
