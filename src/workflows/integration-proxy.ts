import { proxyActivities } from '@temporalio/workflow';
import type { CallInput, CallOutput, EndpointSpec, Integration } from '../integrations/kit/define';
import { activityOptions } from '../integrations/kit/profiles';
import { integrationTaskQueue } from './task-queues';

export type IntegrationProxy<E extends Record<string, EndpointSpec>> = {
  [K in keyof E]: (input: CallInput<E[K]>) => Promise<CallOutput<E[K]>>;
};

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
    const activities = proxyActivities<Record<string, (input: unknown) => Promise<unknown>>>(options);
    proxy[endpoint] = activities[integration.activityName(endpoint)];
  }
  return proxy as IntegrationProxy<E>;
}
