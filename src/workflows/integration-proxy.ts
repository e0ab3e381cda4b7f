import type { Duration } from '@temporalio/common';
import { ActivityCancellationType, patched, proxyActivities, type ActivityOptions } from '@temporalio/workflow';
import type { CallInput, CallOutput, EndpointSpec, Integration } from '../integrations/kit/define';
import type { EndpointsOf, IntegrationView } from '../integrations/kit/view';
import { alwaysNonRetryable } from '../integrations/kit/failures';
import { activityOptions } from '../integrations/kit/profiles';
import { integrationTaskQueue } from '../contracts/task-queues';

export interface CallOptions {
  /** One line shown next to this activity in the Temporal UI, e.g. `reconcile charge: look up`. */
  summary?: string;
  /** Replaces the profile's clock-time budget for this call (an operator's "retry with a new budget"). */
  scheduleToClose?: Duration;
}

/**
 * What a workflow step needs to know about an endpoint, taken from its declaration: nothing about an
 * endpoint is restated by hand in a workflow.
 */
export interface DeclaredEndpoint<O = unknown> {
  integration: string;
  endpoint: string;
  /** The profile's clock-time budget (schedule-to-close) for all attempts together. */
  budget: Duration;
  /** Not a safe read: its effect must happen once, and an unknown outcome must be settled. */
  write: boolean;
  /** Sends the integration's idempotency key: a resend with the same key cannot apply twice. */
  keyed: boolean;
  /** How long the provider remembers keys: resends happen only inside it. */
  keyRetention?: Duration;
  /** The declared lookup: finds the effect of a write sent with `key`, or null. */
  lookup?: (key: string, options?: CallOptions) => Promise<O | null>;
}

/** An endpoint's activity, as a workflow calls it, carrying its declaration for `runStep`. */
export interface EndpointCall<I, O> {
  (input: I, options?: CallOptions): Promise<O>;
  readonly declared: DeclaredEndpoint<O>;
}

export type IntegrationProxy<E extends Record<string, EndpointSpec>> = {
  [K in keyof E]: EndpointCall<CallInput<E[K]>, CallOutput<E[K]>>;
};

type AnyActivity = (input: unknown) => Promise<unknown>;

/**
 * The workflow side of an integration: one function per endpoint, each an activity on the
 * integration's task queue with the options of its profile. No timeouts or retries written by hand.
 * Workflows pass the integration's view from src/integrations/manifest.generated.ts (no zod in the
 * workflow bundle); a declaration itself works too (tests' workflows).
 */
export function proxyIntegration<E extends Record<string, EndpointSpec>>(
  integration: Integration<E>,
): IntegrationProxy<E>;
export function proxyIntegration<I extends Integration>(
  integration: IntegrationView<I>,
): IntegrationProxy<EndpointsOf<I>>;
export function proxyIntegration(integration: IntegrationView): IntegrationProxy<Record<string, EndpointSpec>> {
  const proxy: Record<string, EndpointCall<unknown, unknown>> = {};
  for (const endpoint of Object.keys(integration.endpoints)) {
    const spec = integration.endpoints[endpoint]!;
    const profile = integration.profileOf(endpoint);
    const options = activityOptions(profile, {
      taskQueue: integrationTaskQueue(integration.name),
      retryUnknownOutcome: spec.idempotency === 'key',
    });
    const name = integration.activityName(endpoint);
    const write = spec.idempotency !== 'safe';
    const call = (input: unknown, callOptions?: CallOptions) =>
      activity(write ? writeOptions(options) : options, name, callOptions)(input);
    const lookup = spec.lookup;
    const declared: DeclaredEndpoint = {
      integration: integration.name,
      endpoint,
      budget: profile.scheduleToClose,
      write: spec.idempotency !== 'safe',
      keyed: spec.idempotency === 'key' && integration.idempotency !== undefined,
      keyRetention: integration.idempotency?.retention,
      // Resolved at call time: the lookup endpoint's own proxy entry exists by then.
      lookup: lookup ? (key, callOptions) => proxy[lookup.endpoint]!(lookup.input(key), callOptions) : undefined,
    };
    proxy[endpoint] = Object.assign(call, { declared });
  }
  return proxy;
}

/**
 * How a poller waits:
 * - `heartbeat`: one activity polls every few seconds and heartbeats; for waits of seconds to minutes;
 * - `retry`: a check-once activity fails `NotReady` and Temporal retries it every `interval`
 *   (backoff coefficient 1); for waits of minutes to hours, with no history growth per poll;
 * - `once`: a single check, for workflows that wait with their own timers between checks.
 */
export type PollMode =
  | { mode: 'heartbeat'; deadline: Duration; heartbeatTimeout?: Duration }
  | { mode: 'retry'; interval: Duration; deadline: Duration }
  | { mode: 'once' };

export function proxyPoller<I extends Integration, K extends keyof EndpointsOf<I> & string>(
  integration: IntegrationView<I>,
  poller: string,
  endpoint: K,
  how: PollMode,
): (input: CallInput<EndpointsOf<I>[K]>, options?: CallOptions) => Promise<CallOutput<EndpointsOf<I>[K]>> {
  const profile = integration.profileOf(endpoint);
  const base = {
    taskQueue: integrationTaskQueue(integration.name),
    retry: { nonRetryableErrorTypes: [...alwaysNonRetryable] },
  };
  let options: ActivityOptions;
  switch (how.mode) {
    case 'heartbeat':
      options = {
        ...base,
        startToCloseTimeout: how.deadline,
        scheduleToCloseTimeout: how.deadline,
        heartbeatTimeout: how.heartbeatTimeout ?? '10 seconds',
        retry: { ...base.retry, initialInterval: '1 second', maximumInterval: '10 seconds' },
      };
      break;
    case 'retry':
      options = {
        ...base,
        startToCloseTimeout: profile.startToClose,
        scheduleToCloseTimeout: how.deadline,
        retry: { ...base.retry, initialInterval: how.interval, maximumInterval: how.interval, backoffCoefficient: 1 },
      };
      break;
    case 'once':
      options = { ...base, startToCloseTimeout: profile.startToClose, retry: { ...base.retry, maximumAttempts: 1 } };
      break;
  }
  const name = integration.pollerActivityName(poller, how.mode === 'heartbeat' ? 'heartbeat' : 'once');
  return (input, call) => activity(options, name, call)(input) as Promise<CallOutput<EndpointsOf<I>[K]>>;
}

/**
 * A cancelled workflow waits for a write's attempt in flight to end before it settles the outcome: the
 * SDK's effective default (TRY_CANCEL: the proto's zero value, whatever its docs say) lets it look the
 * write up while the request may still apply. Executions recorded before this replay with the old default.
 */
function writeOptions(options: ActivityOptions): ActivityOptions {
  return patched('write-waits-for-cancellation')
    ? { ...options, cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED }
    : options;
}

function activity(options: ActivityOptions, name: string, call: CallOptions = {}): AnyActivity {
  const activities = proxyActivities<Record<string, AnyActivity>>({
    ...options,
    ...(call.summary ? { summary: call.summary } : {}),
    ...(call.scheduleToClose ? { scheduleToCloseTimeout: call.scheduleToClose } : {}),
  });
  return activities[name]!;
}
