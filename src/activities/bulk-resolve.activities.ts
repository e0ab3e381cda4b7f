import { heartbeat } from '@temporalio/activity';
import { WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError, type Client } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/common';
import {
  ALREADY_DECIDED_MESSAGE,
  NOTHING_PARKED_MESSAGE,
  bulkResolveUpdateId,
  type BulkTargetOutcome,
} from '../contracts/bulk-resolve';
import { resolveParked, type OperatorDecision } from '../contracts/messages';

export interface ListMatchesInput {
  /** The operator's query; `AND ExecutionStatus = 'Running'` is added here. */
  query: string;
  /** base64 of the previous page's token; none for the first page. */
  pageToken?: string;
  /** @default 1000 */
  pageSize?: number;
}

export interface ListMatchesPage {
  workflowIds: string[];
  /** base64; absent on the last page. */
  nextPageToken?: string;
}

export interface SendDecisionsInput {
  /** The bulk job's workflow ID: with a target's ID it makes the Update ID, so a re-sent Update is deduplicated. */
  jobWorkflowId: string;
  targets: string[];
  decision: OperatorDecision;
  /** How long one target may take to answer. @default 10 seconds (ms) */
  perTargetTimeoutMs?: number;
}

export interface TargetResult {
  workflowId: string;
  outcome: BulkTargetOutcome;
  /** Why, for `rejected` and `failed`. */
  reason?: string;
}

/** The running workflows a query matches, one page at a time (the workflow pages, so a retry re-reads one page). */
async function listMatches(client: Client, input: ListMatchesInput): Promise<ListMatchesPage> {
  const response = await client.workflowService.listWorkflowExecutions({
    namespace: client.options.namespace,
    query: `(${input.query}) AND ExecutionStatus = 'Running'`,
    pageSize: input.pageSize ?? 1000,
    nextPageToken: input.pageToken ? Buffer.from(input.pageToken, 'base64') : undefined,
  });
  const token = response.nextPageToken;
  return {
    workflowIds: (response.executions ?? []).flatMap((e) => (e.execution?.workflowId ? [e.execution.workflowId] : [])),
    nextPageToken: token && token.length > 0 ? Buffer.from(token).toString('base64') : undefined,
  };
}

/**
 * Sends the decision to each target at once (the workflow paces the windows) and says what each did.
 * The Update ID is fixed per job and target: an activity retried after a crash re-sends it and Temporal
 * answers with the first delivery's outcome instead of applying a second decision; where that outcome is
 * gone (the target finished since), the target's validator refuses (`nothing is parked`).
 */
async function sendDecisions(client: Client, input: SendDecisionsInput): Promise<TargetResult[]> {
  const timeoutMs = input.perTargetTimeoutMs ?? 10_000;
  let done = 0;
  return Promise.all(
    input.targets.map(async (workflowId): Promise<TargetResult> => {
      const result = await sendOne(client, input, workflowId, timeoutMs);
      heartbeat({ done: ++done });
      return result;
    }),
  );
}

async function sendOne(
  client: Client,
  input: SendDecisionsInput,
  workflowId: string,
  timeoutMs: number,
): Promise<TargetResult> {
  try {
    await client.withDeadline(Date.now() + timeoutMs, () =>
      client.workflow.getHandle(workflowId).executeUpdate(resolveParked, {
        args: [input.decision],
        updateId: bulkResolveUpdateId(input.jobWorkflowId, workflowId),
      }),
    );
    return { workflowId, outcome: 'resolved' };
  } catch (err) {
    return { workflowId, ...classify(err, timeoutMs) };
  }
}

/** What a failed Update means for the count. Errors not listed are thrown: the activity retries them. */
function classify(err: unknown, timeoutMs: number): Omit<TargetResult, 'workflowId'> {
  if (err instanceof WorkflowNotFoundError) return { outcome: 'notParked', reason: 'not running any more' };
  if (err instanceof WorkflowUpdateFailedError) {
    const reason = (err.cause?.message ?? err.message).slice(0, 300);
    if (reason.includes(NOTHING_PARKED_MESSAGE)) return { outcome: 'notParked', reason };
    if (reason.includes(ALREADY_DECIDED_MESSAGE)) return { outcome: 'alreadyDecided', reason };
    return { outcome: 'rejected', reason };
  }
  if (err instanceof WorkflowUpdateRPCTimeoutOrCancelledError || isDeadlineExceeded(err)) {
    return {
      outcome: 'failed',
      reason: `no answer within ${timeoutMs / 1000} s: is a worker serving the target's task queue?`,
    };
  }
  // e.g. "workflow execution already completed", answered as a plain service error by some servers.
  if (err instanceof Error && /already completed|not found/i.test(err.message))
    return { outcome: 'notParked', reason: 'not running any more' };
  throw err;
}

function isDeadlineExceeded(err: unknown): boolean {
  for (let e: unknown = err; e instanceof Error; e = (e as { cause?: unknown }).cause) {
    if ((e as { code?: unknown }).code === 4 /* DEADLINE_EXCEEDED */ || /deadline exceeded/i.test(e.message))
      return true;
  }
  return false;
}

/**
 * The bulk resolution's activities (task queue `operations`, src/contracts/bulk-resolve.ts), over a
 * Temporal client the worker builds from its own connection.
 */
export function createBulkResolveActivities(client: Client) {
  return {
    bulkListParked: (input: ListMatchesInput) => listMatches(client, input),
    bulkSendDecisions: (input: SendDecisionsInput) => sendDecisions(client, input),
  };
}

export type BulkResolveActivities = ReturnType<typeof createBulkResolveActivities>;
