import type { Duration } from '@temporalio/common';
import { proxyActivities } from '@temporalio/workflow';
import type { CrmSyncActivities, CrmSyncResult } from '../activities/crm-sync.activities';
import { integrationViews } from '../integrations/manifest.generated';
import { alwaysNonRetryable } from '../integrations/kit/failures';
import { integrationTaskQueue } from '../contracts/task-queues';

/** The workflow ID services and schedules start the sync with: one sync at a time. */
export const SYNC_CRM_WORKFLOW_ID = 'sync-crm-customers';

export interface SyncCrmCustomersInput {
  /** Customers per page, at most 100. @default 100 */
  pageSize?: number;
  /**
   * Longest silence between two heartbeats (one per page) before Temporal declares the worker gone and
   * retries elsewhere, from the heartbeated cursor. Longer than the slowest page. @default 30 seconds
   */
  heartbeatTimeout?: Duration;
  /** One attempt at the whole sync, all pages. @default 10 minutes */
  attemptTimeout?: Duration;
}

/**
 * Copies every CRM customer into the local store (table `crm_customers`), page by page, in one
 * heartbeating activity on the CRM's queue. Background profile: its clock-time budget and backoff;
 * a retried attempt continues from the last heartbeated cursor instead of page 1.
 */
export async function syncCrmCustomers(input: SyncCrmCustomersInput = {}): Promise<CrmSyncResult> {
  const profile = integrationViews.crm.profileOf('listCustomers');
  const { crmSyncCustomers } = proxyActivities<CrmSyncActivities>({
    taskQueue: integrationTaskQueue('crm'),
    startToCloseTimeout: input.attemptTimeout ?? '10 minutes',
    scheduleToCloseTimeout: profile.scheduleToClose,
    heartbeatTimeout: input.heartbeatTimeout ?? '30 seconds',
    retry: { ...profile.retry, nonRetryableErrorTypes: [...alwaysNonRetryable] },
    summary: 'sync CRM customers into the local store',
  });
  return crmSyncCustomers(input.pageSize === undefined ? {} : { pageSize: input.pageSize });
}
