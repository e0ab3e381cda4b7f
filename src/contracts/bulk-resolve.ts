import { defineQuery } from '@temporalio/workflow';
import type { OperatorDecision } from './messages';

/**
 * Resolving parked workflows in bulk (after an outage): one operator decision sent as the Update
 * `resolveParked` to every running workflow a visibility query matches, by the workflow
 * `resolveParkedInBulk`, at a bounded rate. Names here are stored in histories: an API.
 */

/** The workflow type. */
export const BULK_RESOLVE_WORKFLOW = 'resolveParkedInBulk';

/**
 * The task queue of the bulk job's activities (listing through visibility, sending the Updates). Apart from
 * every integration's queue, so a bulk job never takes a provider's slots or rate. Served by every worker
 * process (src/workers/worker.ts); the workflow itself runs on the `workflows` queue.
 */
export const BULK_RESOLVE_TASK_QUEUE = 'operations';

/** @default 5 Updates a second */
export const DEFAULT_BULK_RATE_PER_SECOND = 5;
/** The highest rate a bulk job accepts: the targets' workflow tasks share the `workflows` queue with live traffic. */
export const MAX_BULK_RATE_PER_SECOND = 100;
/** At most this many matches per job; a larger set is listed in part (`truncated`): run the job again for the rest. */
export const MAX_BULK_TARGETS = 10_000;

export interface BulkResolveRequest {
  /**
   * A visibility query, e.g. `NeedsAttention = true AND IntegrationName = 'email'`. The job adds
   * `AND ExecutionStatus = 'Running'` and lists the matches once, when it starts: workflows that park
   * later are not included (run another job for them).
   */
  query: string;
  /** The decision every match gets; each target's own validator still decides whether it accepts it. */
  decision: OperatorDecision;
  /** Updates sent per second at most. @default {@link DEFAULT_BULK_RATE_PER_SECOND} */
  ratePerSecond?: number;
  /** Why (shown in the job's details and history). */
  reason: string;
  /** Who asked (an operator's handle, not an email address). */
  requestedBy: string;
}

/** What happened to one target, as counted by the job. */
export type BulkTargetOutcome =
  /** Its validator accepted the decision. */
  | 'resolved'
  /** It was not parked any more: resumed, finished, or gone (`nothing is parked`, not found, closed). */
  | 'notParked'
  /** Another decision was accepted before ours (`a decision was already accepted`). */
  | 'alreadyDecided'
  /** Its validator refused this decision (e.g. `compensate` where there is nothing to undo). */
  | 'rejected'
  /** The Update could not be delivered (e.g. a timeout); the target is still parked. */
  | 'failed';

export interface BulkResolveProgress {
  state: 'listing' | 'sending' | 'completed' | 'cancelled';
  /** Running workflows the query matched when the job started. */
  matched: number;
  /** More matched than {@link MAX_BULK_TARGETS}: only the first were taken. */
  truncated: boolean;
  /** Targets done so far, whatever their outcome. */
  processed: number;
  resolved: number;
  notParked: number;
  alreadyDecided: number;
  rejected: number;
  failed: number;
  /** Up to 5 distinct reasons targets refused the decision, and up to 5 delivery failures, each with one workflow ID. */
  rejections: { reason: string; workflowId: string }[];
  failures: { reason: string; workflowId: string }[];
  ratePerSecond: number;
  /** Workflow time the job started (ISO 8601). */
  startedAt: string;
  /** Runs so far (the job continues as new every few thousand targets, so its history stays bounded). */
  runs: number;
}

/** The job's progress (query); answers on a closed job too. */
export const bulkResolveProgress = defineQuery<BulkResolveProgress>('bulkResolveProgress');

/**
 * A bulk job's workflow ID: a time stamp and a random suffix, nothing from the query or the operator
 * (a query may name customers' workflows).
 */
export function bulkResolveWorkflowId(startedAt: Date, random: string): string {
  const stamp = startedAt
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  return `bulk-resolve-${stamp}-${random}`;
}

/** The Update ID the job sends to one target: a retried send is answered with the first one's outcome. */
export function bulkResolveUpdateId(jobWorkflowId: string, targetWorkflowId: string): string {
  return `${jobWorkflowId}:${targetWorkflowId}`;
}

/** How validators' refusals (src/workflows/patterns/park.ts) are told apart. */
export const NOTHING_PARKED_MESSAGE = 'nothing is parked';
export const ALREADY_DECIDED_MESSAGE = 'a decision was already accepted';
