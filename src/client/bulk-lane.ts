import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { WorkflowExecutionAlreadyStartedError, type LoadedDataConverter, type Payload } from '@temporalio/common';
import { integrations } from '../integrations';
import type { Integration } from '../integrations/kit/define';
import { durationMs } from '../integrations/kit/duration';
import type { sendInBulk as sendInBulkWorkflow } from '../workflows/send-in-bulk.workflow';
import {
  addCounts,
  BULK_ID_PATTERN,
  BULK_LANE_WORKFLOW,
  DEFAULT_BULK_CONCURRENCY,
  MAX_BATCH_BYTES,
  MAX_BATCH_ITEMS,
  MAX_BULK_CONCURRENCY,
  MAX_BULK_ITEMS,
  bulkBatchStatus,
  bulkBatchWorkflowId,
  bulkItemProblem,
  type BulkBatchStatus,
  type BulkBatchSummary,
  type BulkCounts,
  type BulkItem,
  type BulkSendProgress,
  type SendInBulkInput,
  bulkChunkItems,
} from '../contracts/bulk-lane';
import { WORKFLOWS_TASK_QUEUE } from '../contracts/task-queues';

export type { BulkBatchStatus, BulkBatchSummary, BulkItem, BulkItemFailure } from '../contracts/bulk-lane';

export interface BulkRequest {
  /** An integration of the registry (src/integrations/index.ts), e.g. `payments`. */
  integration: string;
  /** One of its endpoints: a keyed write (sent with a key per item) or a safe read. */
  endpoint: string;
  /**
   * Names this set of items, e.g. `payouts-2026-12-01`: sending the same batch ID and items again maps
   * to the same workflows and keys, so nothing is sent twice. Letters, digits, `.`, `_`, `:`, `-`; no secrets.
   */
  batchId: string;
  /** Each with a key unique in the batch (e.g. your row ID) and the endpoint's input (`body`, `params`, ...). */
  items: BulkItem[];
  /**
   * Calls in flight per batch (at most the integration's declared `traffic.concurrency`). Its
   * `traffic.ratePerSecond` still paces each call. @default {@link DEFAULT_BULK_CONCURRENCY}
   */
  concurrency?: number;
  /** Items per batch (one workflow each). @default {@link MAX_BATCH_ITEMS} (fewer when items are large) */
  batchSize?: number;
}

/** A bulk send the lane would refuse, with what to do instead. */
export class BulkRequestError extends Error {
  constructor(readonly problems: string[]) {
    super(`bulk send refused: ${problems.join('; ')}`);
    this.name = 'BulkRequestError';
  }
}

/** What a started bulk send gives back: its batches' workflow IDs, and the sum of their results. */
export interface BulkHandle {
  batchId: string;
  items: number;
  workflowIds: string[];
  /**
   * Waits for every batch and adds their summaries up (failures listed up to 100 of each kind). A batch
   * with items whose outcome stayed unknown is parked until an operator decides; one failed by an
   * operator (`fail`) rejects this with its WorkflowFailedError.
   */
  result(): Promise<BulkSummary>;
  /** Where each batch is: `sending`, `parked` (for an operator), `completed` with its summary, or `failed`. */
  status(): Promise<BulkBatchStatus[]>;
}

export interface BulkSummary extends BulkCounts {
  batchId: string;
  batches: number;
  /** Items whose outcome stayed unknown and an operator accepted as they are (`skip` on the parked batch). */
  skipped: number;
}

/** A batch's clock-time budget when the provider keeps keys "forever" (no retention declared) or for a safe read. */
const DEFAULT_BUDGET_MS = 6 * 3600_000;

/**
 * What is wrong with a request, each as a sentence saying what to send instead (empty: nothing). Checks
 * the endpoint (known; a keyed write or a safe read: an unkeyed write resent after a crash could apply
 * twice), the batch ID, the items' keys (present, unique) and each item's input against the endpoint's
 * schemas (the first 5 bad items are named).
 */
export function bulkRequestProblems(
  request: BulkRequest,
  registry: Record<string, Integration> = integrations,
): string[] {
  const problems: string[] = [];
  const integration = Object.hasOwn(registry, request.integration) ? registry[request.integration] : undefined;
  const spec =
    integration && Object.hasOwn(integration.endpoints, request.endpoint)
      ? integration.endpoints[request.endpoint]
      : undefined;
  if (!integration) problems.push(`integration must be one of ${Object.keys(registry).join(', ')}`);
  else if (!spec)
    problems.push(
      `${request.integration} has no endpoint "${request.endpoint}": one of ${Object.keys(integration.endpoints).join(', ')}`,
    );
  else if (spec.idempotency !== 'safe' && !(spec.idempotency === 'key' && integration.idempotency))
    problems.push(
      `${request.integration}.${request.endpoint} is a write without an idempotency key: a resend after a crash could apply it twice; send it one workflow per item instead`,
    );
  if (typeof request.batchId !== 'string' || !BULK_ID_PATTERN.test(request.batchId))
    problems.push('batchId must be 1-100 letters, digits, ".", "_", ":" or "-" (no secrets or personal data)');
  const items = request.items;
  if (!Array.isArray(items) || items.length === 0)
    problems.push('items must be a non-empty array of { key, body/params }');
  else if (items.length > MAX_BULK_ITEMS)
    problems.push(`at most ${MAX_BULK_ITEMS} items per call (got ${items.length}): split them over several batch IDs`);
  else {
    const seen = new Set<string>();
    const bad: string[] = [];
    items.forEach((item, i) => {
      const key = (item as Partial<BulkItem> | null)?.key;
      if (typeof key !== 'string' || !BULK_ID_PATTERN.test(key))
        bad.push(`item ${i}: key must be 1-100 letters, digits, ".", "_", ":" or "-"`);
      else if (seen.has(key)) bad.push(`item ${i}: key "${key}" is used twice (each item needs its own key)`);
      else {
        seen.add(key);
        const invalid = spec ? bulkItemProblem(spec, item) : undefined;
        if (invalid) bad.push(`item "${key}": ${invalid}`);
      }
    });
    problems.push(...bad.slice(0, 5));
    if (bad.length > 5) problems.push(`and ${bad.length - 5} more bad items`);
  }
  const concurrency = request.concurrency ?? DEFAULT_BULK_CONCURRENCY;
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > MAX_BULK_CONCURRENCY)
    problems.push(`concurrency must be a whole number from 1 to ${MAX_BULK_CONCURRENCY}`);
  const size = request.batchSize ?? MAX_BATCH_ITEMS;
  if (!Number.isInteger(size) || size < 1 || size > MAX_BATCH_ITEMS)
    problems.push(`batchSize must be a whole number from 1 to ${MAX_BATCH_ITEMS}`);
  return problems;
}

/**
 * The items split into batches: at most `size` items and {@link MAX_BATCH_BYTES} of JSON each, in order,
 * so the same items always split the same way. An item larger than the byte bound alone is refused.
 */
export function splitIntoBatches(items: BulkItem[], size = MAX_BATCH_ITEMS): BulkItem[][] {
  const batches: BulkItem[][] = [];
  let current: BulkItem[] = [];
  let bytes = 0;
  for (const item of items) {
    const itemBytes = Buffer.byteLength(JSON.stringify(item));
    if (itemBytes > MAX_BATCH_BYTES)
      throw new BulkRequestError([`item "${item.key}" is ${itemBytes} bytes: at most ${MAX_BATCH_BYTES} per item`]);
    if (current.length >= size || bytes + itemBytes > MAX_BATCH_BYTES) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(item);
    bytes += itemBytes;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

/**
 * Sends many items of one endpoint through the high-volume lane (src/contracts/bulk-lane.ts) and
 * returns once every batch's workflow is started. Throws {@link BulkRequestError} before anything
 * starts for a request the lane would refuse. Calling it again with the same batch ID and items
 * attaches to the same workflows (a completed batch is not run again; a failed, cancelled or terminated
 * one is, every item again with its key).
 */
export async function startBulk(client: Client, request: BulkRequest): Promise<BulkHandle> {
  const problems = bulkRequestProblems(request);
  if (problems.length > 0) throw new BulkRequestError(problems);
  const integration = (integrations as Record<string, Integration>)[request.integration]!;
  const spec = integration.endpoints[request.endpoint]!;
  const write = spec.idempotency !== 'safe';
  const retention = integration.idempotency?.retention;
  // Resends happen only while the provider remembers the key (with a margin).
  const budgetMs = write && retention !== undefined ? Math.floor(durationMs(retention) * 0.9) : DEFAULT_BUDGET_MS;
  const concurrency = Math.min(
    request.concurrency ?? DEFAULT_BULK_CONCURRENCY,
    integration.traffic?.concurrency ?? MAX_BULK_CONCURRENCY,
  );
  const batches = splitIntoBatches(request.items, request.batchSize ?? MAX_BATCH_ITEMS);
  const ids = batches.map((_, batchIndex) =>
    bulkBatchWorkflowId(request.integration, request.endpoint, request.batchId, batchIndex),
  );
  // A batch sent again after an execution that did not complete (failed, cancelled, terminated) resends
  // every item, some applied by that execution: its resends must stay inside the key retention counted
  // from the first send, not from the new execution's start.
  const now = Date.now();
  const firstSent = await Promise.all(
    ids.map((id) => (write && retention !== undefined ? firstSentAt(client, id) : Promise.resolve(undefined))),
  );
  const late = ids.filter((_, i) => budgetMs - (now - (firstSent[i] ?? now)) < MIN_RESEND_BUDGET_MS);
  if (late.length > 0)
    throw new BulkRequestError([
      `${late.slice(0, 5).join(', ')}${late.length > 5 ? ` and ${late.length - 5} more` : ''} first sent more than ` +
        `${Math.round(budgetMs / 60_000)} min ago (inside the provider's key retention of ${retention}): sending ` +
        'them again could apply their items twice; check those items at the provider and send what is missing ' +
        'under a new batch ID',
    ]);
  const workflowIds = await Promise.all(
    batches.map(async (items, batchIndex) => {
      const workflowId = ids[batchIndex]!;
      const sentAt = firstSent[batchIndex] ?? now;
      const input: SendInBulkInput = {
        integration: request.integration,
        endpoint: request.endpoint,
        batchId: request.batchId,
        batchIndex,
        items,
        concurrency,
        write,
        budgetMs: budgetMs - (now - sentAt),
        ...(integration.traffic?.ratePerSecond
          ? { chunkItems: bulkChunkItems(integration.traffic.ratePerSecond) }
          : {}),
      };
      try {
        await client.workflow.start<typeof sendInBulkWorkflow>(BULK_LANE_WORKFLOW, {
          taskQueue: WORKFLOWS_TASK_QUEUE,
          workflowId,
          args: [input],
          workflowIdConflictPolicy: 'USE_EXISTING',
          // A batch that completed is never run again; one that failed, was cancelled or terminated is.
          workflowIdReusePolicy: 'ALLOW_DUPLICATE_FAILED_ONLY',
          memo: { [FIRST_SENT_AT_MEMO]: sentAt, [BUDGET_FROM_MEMO]: now },
          staticSummary: `Bulk ${request.integration}.${request.endpoint}: batch ${batchIndex + 1} of ${batches.length}, ${items.length} items`,
        });
      } catch (err) {
        if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      }
      return workflowId;
    }),
  );
  return bulkHandle(client, request.batchId, request.items.length, workflowIds);
}

/** The memo field (ms since the epoch) of a batch's first send, carried by every execution sent again. */
export const FIRST_SENT_AT_MEMO = 'bulkFirstSentAt';
/** The memo field (ms since the epoch) of the moment this execution's budget was counted from. */
export const BUDGET_FROM_MEMO = 'bulkBudgetFrom';
/** A batch sent again needs at least this much of its budget left (the workflow's own floor for a resend). */
const MIN_RESEND_BUDGET_MS = 1000;

/**
 * When the items of the batch with this workflow ID were first sent, if its latest execution did not
 * complete and a start would run it again (failed, cancelled, terminated, timed out): from its memo, or
 * its start for an execution started before the memo. Undefined when there is none, or it runs or completed.
 */
async function firstSentAt(client: Client, workflowId: string): Promise<number | undefined> {
  let description;
  try {
    description = await client.workflow.getHandle(workflowId).describe();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw err;
  }
  if (description.status.name === 'RUNNING' || description.status.name === 'COMPLETED') return undefined;
  const memo = description.memo?.[FIRST_SENT_AT_MEMO];
  return typeof memo === 'number' ? memo : description.startTime.getTime();
}

/** A handle on batches started earlier (e.g. by another process), by their workflow IDs. */
export function bulkHandle(client: Client, batchId: string, items: number, workflowIds: string[]): BulkHandle {
  return {
    batchId,
    items,
    workflowIds,
    async result() {
      const summaries = await Promise.all(
        workflowIds.map((id) => client.workflow.getHandle<typeof sendInBulkWorkflow>(id).result()),
      );
      return addUp(batchId, summaries);
    },
    status: () => Promise.all(workflowIds.map((id) => batchStatus(client, id))),
  };
}

/**
 * A batch's status; while it sends, with the counts of its activity's last heartbeat. A batch cancelled or
 * terminated while it sent or was parked says so: its query, answered from its history, still says what it
 * was doing then.
 */
async function batchStatus(client: Client, workflowId: string): Promise<BulkBatchStatus> {
  const handle = client.workflow.getHandle(workflowId);
  const status = await handle.query(bulkBatchStatus);
  if (status.state !== 'sending' && status.state !== 'parked') return status;
  const description = await handle.describe();
  const ended = endedFromOutside[description.status.name];
  if (ended) return { ...status, state: ended };
  if (status.state !== 'sending') return status;
  const payloads = description.raw.pendingActivities?.[0]?.heartbeatDetails?.payloads;
  const progress = await decodeHeartbeat<BulkSendProgress>(client.workflow.options.loadedDataConverter, payloads);
  if (!progress) return status;
  return {
    ...status,
    progress: { succeeded: progress.ok.length, failed: progress.failed.length, unknown: progress.unknown.length },
  };
}

/** An execution status that ends a batch from outside (no workflow timeout is set, so none times out). */
const endedFromOutside: Partial<Record<string, BulkBatchStatus['state']>> = {
  CANCELLED: 'cancelled',
  TERMINATED: 'terminated',
  TIMED_OUT: 'failed',
};

/**
 * An activity's first heartbeat detail as `describe()` gives it (raw payloads, encoded as the workers'
 * data converter encoded them), through the client's own data converter with the SDK's public interfaces
 * only: the codecs decode in reverse order (the last one encoded last), then the payload converter.
 * Undefined when there is none.
 */
export async function decodeHeartbeat<T>(
  converter: Pick<LoadedDataConverter, 'payloadConverter' | 'payloadCodecs'>,
  payloads: Payload[] | null | undefined,
): Promise<T | undefined> {
  if (!payloads?.length) return undefined;
  let decoded = payloads;
  for (const codec of [...converter.payloadCodecs].reverse()) decoded = await codec.decode(decoded);
  const first = decoded[0];
  return first ? converter.payloadConverter.fromPayload<T>(first) : undefined;
}

export function addUp(batchId: string, summaries: BulkBatchSummary[]): BulkSummary {
  return {
    batchId,
    batches: summaries.length,
    ...addCounts(summaries),
    skipped: summaries.reduce((n, s) => n + (s.skipped ?? 0), 0),
  };
}
