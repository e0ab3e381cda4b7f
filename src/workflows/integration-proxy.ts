import type { Duration } from '@temporalio/common';
import { proxyActivities, type ActivityOptions } from '@temporalio/workflow';
import type { CallInput, CallOutput, EndpointSpec, Integration } from '../integrations/kit/define';
import { alwaysNonRetryable } from '../integrations/kit/failures';
import { activityOptions } from '../integrations/kit/profiles';
import { integrationTaskQueue } from './task-queues';

export interface CallOptions {
  /** One line shown next to this activity in the Temporal UI, e.g. `reconcile charge: look up`. */
  summary?: string;
  /** Replaces the profile's clock-time budget for this call (an operator's "retry with a new budget"). */
  scheduleToClose?: Duration;
}

export type IntegrationProxy<E extends Record<string, EndpointSpec>> = {
  [K in keyof E]: (input: CallInput<E[K]>, options?: CallOptions) => Promise<CallOutput<E[K]>>;
};

type AnyActivity = (input: unknown) => Promise<unknown>;

/**
 * The workflow side of an integration: one function per endpoint, each an activity on the
 * integration's task queue with the options of its profile. No timeouts or retries written by hand.
 */
export function proxyIntegration<E extends Record<string, EndpointSpec>>(
  integration: Integration<E>,
): IntegrationProxy<E> {
  const proxy: Partial<Record<keyof E, unknown>> = {};
  for (const endpoint of Object.keys(integration.endpoints) as (keyof E & string)[]) {
    const spec = integration.endpoints[endpoint]!;
    const options = activityOptions(integration.profileOf(endpoint), {
      taskQueue: integrationTaskQueue(integration.name),
      retryUnknownOutcome: spec.idempotency === 'key',
    });
    const name = integration.activityName(endpoint);
    proxy[endpoint] = (input: unknown, call?: CallOptions) => activity(options, name, call)(input);
  }
  return proxy as IntegrationProxy<E>;
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

export function proxyPoller<E extends Record<string, EndpointSpec>, K extends keyof E & string>(
  integration: Integration<E>,
  poller: string,
  endpoint: K,
  how: PollMode,
): (input: CallInput<E[K]>, options?: CallOptions) => Promise<CallOutput<E[K]>> {
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
  return (input, call) => activity(options, name, call)(input) as Promise<CallOutput<E[K]>>;
}

function activity(options: ActivityOptions, name: string, call: CallOptions = {}): AnyActivity {
  const activities = proxyActivities<Record<string, AnyActivity>>({
    ...options,
    ...(call.summary ? { summary: call.summary } : {}),
    ...(call.scheduleToClose ? { scheduleToCloseTimeout: call.scheduleToClose } : {}),
  });
  return activities[name]!;
}
