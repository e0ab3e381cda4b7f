import type { Duration } from '@temporalio/common';
import { proxyActivities, type ActivityOptions } from '@temporalio/workflow';
import type {
  AwaitFileInput,
  AwaitFileResult,
  AwaitFileSpec,
  FileDropIntegration,
  FileEndpointSpec,
  UploadInput,
  UploadResult,
} from '../integrations/kit/file-drop';
import type { EndpointsOf, FileDropView } from '../integrations/kit/view';
import { alwaysNonRetryable, FailureType } from '../integrations/kit/failures';
import { activityOptions } from '../integrations/kit/profiles';
import { integrationTaskQueue } from '../contracts/task-queues';

/**
 * The workflow side of a file-drop integration (kit/file-drop.ts): its activities on the integration's
 * queue with the options of their declarations, nothing restated by hand.
 *
 * - an upload is retried like a keyed write: its file name is its key, so `OutcomeUnknown` (a connection
 *   lost after the upload started) and a copy that failed verification (deleted before the rename) are
 *   resent safely;
 * - an answer wait is one check per attempt, failing `NotReady` until the file is there: Temporal's
 *   retries do the waiting, every `interval`, and `deadline` is its schedule-to-close.
 */
export type FileDropProxy<E extends Record<string, FileEndpointSpec>> = {
  [K in keyof E]: E[K] extends AwaitFileSpec
    ? (input: AwaitFileInput, options: { deadline: Duration; summary?: string }) => Promise<AwaitFileResult>
    : (input: UploadInput, options?: { summary?: string }) => Promise<UploadResult>;
};

type AnyActivity = (input: unknown) => Promise<unknown>;

/** Takes the integration's view (src/integrations/manifest.generated.ts) or its declaration. */
export function proxyFileDrop<E extends Record<string, FileEndpointSpec>>(
  integration: FileDropIntegration<E>,
): FileDropProxy<E>;
export function proxyFileDrop<I extends FileDropIntegration>(
  integration: FileDropView<I>,
): FileDropProxy<EndpointsOf<I>>;
export function proxyFileDrop(integration: FileDropView): FileDropProxy<Record<string, FileEndpointSpec>> {
  const proxy: Record<string, unknown> = {};
  const taskQueue = integrationTaskQueue(integration.name);
  for (const endpoint of Object.keys(integration.endpoints)) {
    const spec = integration.endpoints[endpoint]!;
    const profile = integration.profileOf(endpoint);
    const name = integration.activityName(endpoint);
    if (spec.kind === 'upload') {
      const base = activityOptions(profile, { taskQueue, retryUnknownOutcome: true });
      const options: ActivityOptions = {
        ...base,
        retry: {
          ...base.retry,
          nonRetryableErrorTypes: (base.retry?.nonRetryableErrorTypes ?? []).filter(
            (t) => t !== FailureType.InvalidResponse,
          ),
        },
      };
      proxy[endpoint] = (input: UploadInput, call: { summary?: string } = {}) =>
        activity({ ...options, ...(call.summary ? { summary: call.summary } : {}) }, name)(input);
    } else {
      const interval = spec.interval ?? '30 seconds';
      proxy[endpoint] = (input: AwaitFileInput, call: { deadline: Duration; summary?: string }) =>
        activity(
          {
            taskQueue,
            startToCloseTimeout: profile.startToClose,
            scheduleToCloseTimeout: call.deadline,
            retry: {
              initialInterval: interval,
              maximumInterval: interval,
              backoffCoefficient: 1,
              nonRetryableErrorTypes: [...alwaysNonRetryable],
            },
            ...(call.summary ? { summary: call.summary } : {}),
          },
          name,
        )(input);
    }
  }
  return proxy as FileDropProxy<Record<string, FileEndpointSpec>>;
}

function activity(options: ActivityOptions, name: string): AnyActivity {
  return proxyActivities<Record<string, AnyActivity>>(options)[name]!;
}
