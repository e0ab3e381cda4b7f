import { ActivityCancellationType, proxyActivities, setHandler, upsertSearchAttributes } from '@temporalio/workflow';
import type { createBulkLaneActivities } from '../activities/bulk-lane.activities';
import {
  BULK_LANE_ACTIVITY,
  bulkBatchStatus,
  type BulkBatchStatus,
  type BulkBatchSummary,
  type SendInBulkInput,
} from '../contracts/bulk-lane';
import { IntegrationName, WorkflowStage } from '../contracts/search-attributes';
import { integrationTaskQueue } from '../contracts/task-queues';

type BulkLaneActivities = ReturnType<typeof createBulkLaneActivities>;

/**
 * One batch of the high-volume lane (src/contracts/bulk-lane.ts): the batch's items through one activity
 * on the integration's task queue. Its history is a handful of events whatever the batch size (one
 * activity, its result a summary), so it never needs continue-as-new; a larger set is more batches.
 *
 * The activity heartbeats its progress every second with a 10 s heartbeat timeout: a crashed worker is
 * noticed within it and the retried execution sends only the items not done, with the same keys. It is
 * retried (1 s, growing to 1 min) while the integration cannot take calls (breaker open, switched off,
 * credentials), inside `budgetMs`, which the client keeps inside the provider's key retention.
 */
export async function sendInBulk(input: SendInBulkInput): Promise<BulkBatchSummary> {
  const status: BulkBatchStatus = { state: 'sending', items: input.items.length };
  setHandler(bulkBatchStatus, () => status);
  upsertSearchAttributes([
    { key: IntegrationName, value: input.integration },
    { key: WorkflowStage, value: 'bulk:sending' },
  ]);
  const activities = proxyActivities<BulkLaneActivities>({
    taskQueue: integrationTaskQueue(input.integration),
    startToCloseTimeout: '1 hour',
    scheduleToCloseTimeout: input.budgetMs,
    heartbeatTimeout: '10 seconds',
    retry: { initialInterval: '1 second', maximumInterval: '1 minute' },
    // A cancelled batch ends once the calls in flight have (their outcomes are in the activity's last heartbeat).
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    summary: `${input.integration}.${input.endpoint}: ${input.items.length} items`,
  });
  const summary = await activities[BULK_LANE_ACTIVITY](input);
  status.state = 'completed';
  status.summary = summary;
  upsertSearchAttributes([
    {
      key: WorkflowStage,
      value: summary.failed + summary.unknown === 0 ? 'bulk:completed' : 'bulk:completed-with-failures',
    },
  ]);
  return summary;
}
