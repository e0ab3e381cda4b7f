import { randomBytes } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { durationMs } from '../integrations/kit/duration';
import type { resolveParkedInBulk } from '../workflows/resolve-parked-in-bulk.workflow';
import {
  BULK_RESOLVE_WORKFLOW,
  DEFAULT_BULK_RATE_PER_SECOND,
  MAX_BULK_RATE_PER_SECOND,
  bulkResolveProgress as progressQuery,
  bulkResolveWorkflowId,
  type BulkResolveProgress,
  type BulkResolveRequest,
} from '../contracts/bulk-resolve';
import type { OperatorDecision } from '../contracts/messages';
import { WORKFLOWS_TASK_QUEUE } from '../contracts/task-queues';

export type { BulkResolveProgress, BulkResolveRequest } from '../contracts/bulk-resolve';

const actions: OperatorDecision['action'][] = ['retry', 'retryWithBudget', 'skip', 'compensate', 'fail'];

/** A request the job would refuse, with what to do instead. */
export class BulkResolveRequestError extends Error {
  constructor(readonly problems: string[]) {
    super(`bulk resolution refused: ${problems.join('; ')}`);
    this.name = 'BulkResolveRequestError';
  }
}

/**
 * What is wrong with a request, each as a sentence saying what to send instead (empty: nothing). The
 * same rules as each target's validator (src/workflows/patterns/park.ts), checked before anything starts.
 */
export function bulkResolveRequestProblems(request: BulkResolveRequest): string[] {
  const problems: string[] = [];
  if (typeof request.query !== 'string' || request.query.trim() === '')
    problems.push(`query is required, e.g. "NeedsAttention = true AND IntegrationName = 'email'"`);
  const d = request.decision as Partial<OperatorDecision> & Record<string, unknown>;
  if (!d || typeof d !== 'object' || !actions.includes(d.action as never)) {
    problems.push(`decision.action must be one of ${actions.join(', ')}`);
  } else if (d.action === 'retryWithBudget') {
    let ms = Number.NaN;
    try {
      ms = durationMs(d.budget as never);
    } catch {
      // reported below
    }
    if (!(ms > 0)) problems.push('retryWithBudget needs a budget such as "30 minutes" or "2 hours"');
  } else if (d.action === 'skip' && !('result' in d && d.result !== undefined)) {
    problems.push('skip needs the result every target continues with, e.g. {"action":"skip","result":{...}}');
  } else if (d.action === 'fail' && (typeof d.reason !== 'string' || d.reason.trim() === '')) {
    problems.push('fail needs a reason');
  }
  const rate = request.ratePerSecond ?? DEFAULT_BULK_RATE_PER_SECOND;
  if (typeof rate !== 'number' || !(rate > 0) || rate > MAX_BULK_RATE_PER_SECOND)
    problems.push(`ratePerSecond must be a number above 0 and at most ${MAX_BULK_RATE_PER_SECOND}`);
  if (typeof request.reason !== 'string' || request.reason.trim() === '')
    problems.push('reason is required (why these workflows get this decision)');
  if (typeof request.requestedBy !== 'string' || request.requestedBy.trim() === '')
    problems.push('requestedBy is required (an operator handle, not an email address)');
  return problems;
}

/**
 * Starts a bulk resolution (workflow `resolveParkedInBulk` on the `workflows` queue; its activities run on
 * the `operations` queue, which every worker serves) and returns its workflow ID at once. The matches are
 * listed when it starts; workflows parking later are not included. Throws {@link BulkResolveRequestError}
 * for a request the targets would refuse (e.g. `skip` without a `result`), before anything starts.
 */
export async function startBulkResolve(client: Client, request: BulkResolveRequest): Promise<string> {
  const problems = bulkResolveRequestProblems(request);
  if (problems.length > 0) throw new BulkResolveRequestError(problems);
  const workflowId = bulkResolveWorkflowId(new Date(), randomBytes(4).toString('hex'));
  await client.workflow.start<typeof resolveParkedInBulk>(BULK_RESOLVE_WORKFLOW, {
    taskQueue: WORKFLOWS_TASK_QUEUE,
    workflowId,
    args: [{ request: { ...request, ratePerSecond: request.ratePerSecond ?? DEFAULT_BULK_RATE_PER_SECOND } }],
    staticSummary: `Bulk ${request.decision.action} of parked workflows`,
  });
  return workflowId;
}

/** Where a bulk resolution is (counts, state); answers for a finished or cancelled one too. */
export async function bulkResolveProgress(client: Client, workflowId: string): Promise<BulkResolveProgress> {
  return client.workflow.getHandle(workflowId).query(progressQuery);
}

/** Asks a bulk resolution to stop: the window in flight finishes, nothing more is sent. */
export async function cancelBulkResolve(client: Client, workflowId: string): Promise<void> {
  await client.workflow.getHandle(workflowId).cancel();
}
