import type { Logger } from '../../../observability/logger';
import type { EndpointSpec, Integration } from '../../kit/define';
import type { FailureType } from '../../kit/failures';
import type { Profile } from '../../kit/profiles';
import type { Token } from '../auth/token-cache';
import type { Outcome, Verdict } from '../classify';
import type { ProviderRequest } from '../transport/request';

/** Where a call runs: the activity's attempt and identity, and its cancellation. */
export interface CallContext {
  /** 1-based attempt of the activity execution. */
  attempt: number;
  workflowId?: string;
  activityId?: string;
  signal?: AbortSignal;
}

/** What an endpoint's activity receives; checked against the endpoint's schemas before anything is sent. */
export interface ActivityInput {
  key?: string;
  /** Skip a declared fallback: no cached or default answer, the provider's own or its failure. */
  fresh?: boolean;
  params?: unknown;
  query?: unknown;
  body?: unknown;
  /** A GraphQL endpoint's variables. */
  variables?: unknown;
}

/** One call on its way through the call path; each policy reads what it needs and adds what it learns. */
export interface Call {
  readonly integration: Integration;
  readonly endpoint: string;
  readonly spec: EndpointSpec;
  readonly profile: Profile;
  readonly input: ActivityInput;
  readonly ctx: CallContext;
  /** Set by the gate: this call is the breaker's half-open probe. */
  probe: boolean;
  /** Set by `prepare`: the request as it will be sent. */
  request?: ProviderRequest;
  /** Set by `authenticate`. */
  credentials?: { headers: Record<string, string>; token?: Token };
  /** Set by `send`: what the attempt produced, before any judgement. */
  outcome?: Outcome;
  /** Set by `report`: how long the attempt past the gate took (prepare, authenticate, send, classify), ms. */
  attemptMs?: number;
}

/**
 * Every step of the call path has this one shape (in the spirit of cockatiel's `execute`): it gets the
 * call and the rest of the path, and answers a verdict: its own (a cached answer, a call held back) or
 * the rest's, seen on the way back (to log it, to report it).
 */
export type Policy = (call: Call, next: (call: Call) => Promise<Verdict>) => Promise<Verdict>;

/** Runs the policies in order; the last one answers without calling `next`. */
export function compose(policies: readonly Policy[]): (call: Call) => Promise<Verdict> {
  const run = (index: number, call: Call): Promise<Verdict> => {
    const policy = policies[index];
    if (!policy) return Promise.reject(new Error('the call path ended without an answer'));
    return policy(call, (next) => run(index + 1, next));
  };
  return (call) => run(0, call);
}

/** A failure verdict for a call stopped before anything was sent, logged once at warn. */
export function heldBack(
  logger: Logger,
  call: Call,
  failure: { type: FailureType; message: string; retryable: boolean; retryInMs?: number },
): Verdict {
  logger.warn(
    {
      integration: call.integration.name,
      endpoint: call.endpoint,
      attempt: call.ctx.attempt,
      workflowId: call.ctx.workflowId,
      outcome: failure.type,
      retryInMs: failure.retryInMs,
    },
    'integration call held back',
  );
  return {
    ok: false,
    type: failure.type,
    message: failure.message,
    retryable: failure.retryable,
    nextRetryDelayMs: failure.retryInMs,
  };
}
