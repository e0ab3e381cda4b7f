import {
  ActivityCancellationType,
  ActivityFailure,
  ApplicationFailure,
  isCancellation,
  patched,
  TimeoutFailure,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { createBulkLaneActivities } from '../activities/bulk-lane.activities';
import {
  afterResend,
  afterSkip,
  BULK_LANE_ACTIVITY,
  bulkBatchStatus,
  combineChunks,
  MAX_LISTED_FAILURES,
  summarize,
  unknownKeysOf,
  type BulkSendProgress,
  type BulkBatchStatus,
  type BulkBatchSummary,
  type SendInBulkInput,
} from '../contracts/bulk-lane';
import { IntegrationName, WorkflowStage } from '../contracts/search-attributes';
import { integrationBulkTaskQueue, integrationTaskQueue } from '../contracts/task-queues';
import { installOperatorHandlers, park } from './patterns/park';

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
 *
 * Items whose write outcome stays unknown (no lookup, or the lookup could not settle it) park the batch
 * for an operator (`resolveParked`): `retry` resends exactly those items with their keys (they settle or
 * park again), `skip` accepts them as they are (counted as `skipped`), `fail` ends the batch failed with
 * their keys. Definite failures (a 4xx) are answers: recorded in the summary, no park.
 */
export async function sendInBulk(input: SendInBulkInput): Promise<BulkBatchSummary> {
  const status: BulkBatchStatus = { state: 'sending', items: input.items.length };
  setHandler(bulkBatchStatus, () => status);
  // `parkedState` answers (null) from the start, like any workflow that may park; no command: replay-safe.
  installOperatorHandlers();
  upsertSearchAttributes([
    { key: IntegrationName, value: input.integration },
    { key: WorkflowStage, value: 'bulk:sending' },
  ]);
  // A rate-limited integration's batch runs as chunks on its bulk queue (the server paces chunk starts).
  const taskQueue = input.chunkItems
    ? integrationBulkTaskQueue(input.integration)
    : integrationTaskQueue(input.integration);
  const lane = (summary: string, budgetMs = input.budgetMs) =>
    proxyActivities<BulkLaneActivities>({
      taskQueue,
      startToCloseTimeout: '1 hour',
      scheduleToCloseTimeout: budgetMs,
      heartbeatTimeout: '10 seconds',
      retry: { initialInterval: '1 second', maximumInterval: '1 minute' },
      // A cancelled batch ends once the calls in flight have (their outcomes are in the activity's last heartbeat).
      cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
      summary,
    })[BULK_LANE_ACTIVITY];
  let summary = input.chunkItems
    ? await sendInChunks(input, input.chunkItems, lane)
    : await settledOrUnknown(input, () =>
        lane(`${input.integration}.${input.endpoint}: ${input.items.length} items`)(input),
      );
  // Executions recorded before unknown items parked the batch completed with them listed.
  if (summary.unknown > 0 && patched('bulk-park-unknown')) summary = await settleUnknown(input, summary, status, lane);
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

/**
 * The batch as chunks of `size` items, one activity each, one after the other, each inside what is left of
 * the batch's budget (counted from its start, so every resend stays inside the provider's key retention).
 */
async function sendInChunks(
  input: SendInBulkInput,
  size: number,
  lane: (summary: string, budgetMs: number) => (input: SendInBulkInput) => Promise<BulkBatchSummary>,
): Promise<BulkBatchSummary> {
  const parts: BulkBatchSummary[] = [];
  const chunks = Math.ceil(input.items.length / size);
  for (let i = 0; i < chunks; i++) {
    const leftMs = budgetLeftMs(input);
    // Executions recorded before unfinished items parked the batch failed here.
    if (leftMs < 1000 && patched('bulk-park-unfinished')) {
      const rest = input.items.slice(i * size);
      parts.push(unsettled({ ...input, items: rest }, undefined, 'the batch budget ran out before it was sent'));
      break;
    }
    if (leftMs < 1000)
      throw ApplicationFailure.create({
        type: 'BudgetSpent',
        message: `the batch budget ran out after ${i} of ${chunks} chunks; the rest was not sent: send the batch again`,
        nonRetryable: true,
      });
    const items = input.items.slice(i * size, (i + 1) * size);
    const summary = `${input.integration}.${input.endpoint}: chunk ${i + 1}/${chunks}, ${items.length} items`;
    parts.push(await settledOrUnknown({ ...input, items }, () => lane(summary, leftMs)({ ...input, items })));
  }
  return combineChunks(input, parts);
}

/**
 * One send of (part of) the batch. When its activity fails for good (its budget spent while the provider
 * could not take calls, a non-retryable error), every item its last heartbeat had not settled counts as
 * unknown (it may have been in flight): the batch then parks with them instead of failing in between.
 */
async function settledOrUnknown(
  input: SendInBulkInput,
  send: () => Promise<BulkBatchSummary>,
): Promise<BulkBatchSummary> {
  try {
    return await send();
  } catch (err) {
    // Executions recorded before unfinished items parked the batch failed with the activity.
    if (isCancellation(err) || !patched('bulk-park-unfinished')) throw err;
    const progress =
      err instanceof ActivityFailure && err.cause instanceof TimeoutFailure
        ? (err.cause.lastHeartbeatDetails as BulkSendProgress | undefined)
        : undefined;
    const cause = err instanceof ActivityFailure && err.cause ? err.cause.message : (err as Error).message;
    return unsettled(input, progress, `not settled when the batch's activity ended (${cause})`);
  }
}

/** The batch as `progress` left it, every item it did not settle counted as unknown, with `message`. */
function unsettled(input: SendInBulkInput, progress: BulkSendProgress | undefined, message: string): BulkBatchSummary {
  const known = progress ?? { ok: [], failed: [], unknown: [], foundByLookup: 0, resends: 0 };
  const settled = new Set([...known.ok, ...known.failed.map((f) => f.key), ...known.unknown.map((f) => f.key)]);
  const open = input.items.filter((item) => !settled.has(item.key));
  return summarize(input, {
    ...known,
    unknown: [...known.unknown, ...open.map((item) => ({ key: item.key, type: 'Unfinished', message }))],
  });
}

/** What is left of the batch's budget, counted from its start. */
function budgetLeftMs(input: SendInBulkInput): number {
  return input.budgetMs - (Date.now() - workflowInfo().startTime.getTime());
}

/** Parks while some items' outcomes are unknown, and carries out the operator's decisions until none is. */
async function settleUnknown(
  input: SendInBulkInput,
  first: BulkBatchSummary,
  status: BulkBatchStatus,
  lane: (summary: string, budgetMs: number) => (input: SendInBulkInput) => Promise<BulkBatchSummary>,
): Promise<BulkBatchSummary> {
  let summary = first;
  let note = '';
  for (let round = 1; summary.unknown > 0; round++) {
    const keys = unknownKeysOf(summary);
    const example = summary.unknowns[0];
    status.state = 'parked';
    status.summary = summary;
    const decision = await park(
      {
        integration: input.integration,
        endpoint: input.endpoint,
        step: `bulk batch ${input.batchIndex}`,
        failureType: 'OutcomeUnknown',
        attempts: round,
        lastError:
          `${note}${keys.length} item(s) may or may not have been applied: ` +
          (example?.type === 'Unfinished'
            ? 'the batch could not send or settle them'
            : 'no lookup settled them after every resend with the same key') +
          (example ? ` (e.g. ${example.key}: ${example.type}: ${example.message})` : ''),
        items: { count: keys.length, keys: keys.slice(0, MAX_LISTED_FAILURES) },
      },
      { canCompensate: false, allowed: ['retry', 'skip', 'fail'] },
    );
    status.state = 'sending';
    note = '';
    switch (decision.action) {
      case 'retry':
      case 'retryWithBudget': {
        // The provider keeps keys at least the batch's budget from its start: later, a resend could apply twice.
        const leftMs = budgetLeftMs(input);
        if (leftMs < 1000) {
          note =
            'not resent: the batch budget (inside the provider key retention) is spent, a resend could apply twice; ';
          break;
        }
        upsertSearchAttributes([{ key: WorkflowStage, value: 'bulk:sending' }]);
        const wanted = new Set(keys);
        const resend = `${input.integration}.${input.endpoint}: operator resend of ${keys.length} unknown items`;
        const resendInput: SendInBulkInput = {
          ...input,
          items: input.items.filter((item) => wanted.has(item.key)),
          resend: true,
        };
        // A rate-limited integration's resend goes in chunks too, paced like the first send.
        const again = input.chunkItems
          ? await sendInChunks(resendInput, input.chunkItems, lane)
          : await settledOrUnknown(resendInput, () => lane(resend, leftMs)(resendInput));
        summary = afterResend(summary, again);
        break;
      }
      case 'skip':
        summary = afterSkip(summary);
        break;
      case 'fail':
        status.state = 'failed';
        status.summary = summary;
        upsertSearchAttributes([{ key: WorkflowStage, value: 'bulk:failed' }]);
        throw ApplicationFailure.create({
          type: 'OperatorFailed',
          message:
            `${decision.reason}: ${keys.length} item(s) with an unknown outcome: ` +
            `${keys.slice(0, 20).join(', ')}${keys.length > 20 ? ', …' : ''}`,
          nonRetryable: true,
          details: [{ ...summary, unknownKeys: keys }],
        });
      default:
        break;
    }
  }
  return summary;
}
