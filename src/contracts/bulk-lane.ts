import { defineQuery } from '@temporalio/workflow';
import type { EndpointSpec } from '../integrations/kit/define';

/**
 * The high-volume lane: many items of one endpoint per workflow and per activity (issue 12, "background
 * volume"). A service sends N items with `IntegrationsClient.sendInBulk`; the client splits them into
 * batches and starts one `sendInBulk` workflow per batch, whose one activity (`bulkLaneSend`, on the
 * integration's own task queue) calls the endpoint for each item through the engine (rate limiter,
 * breaker, kill switch), a few at a time, each with its own idempotency key. Names here are stored in
 * histories: an API. Workflow-safe: no imports but the query definition (and types).
 */

/** The workflow type (one execution per batch). */
export const BULK_LANE_WORKFLOW = 'sendInBulk';
/** The activity, registered on every integration's task queue (src/activities/index.ts). */
export const BULK_LANE_ACTIVITY = 'bulkLaneSend';

/** At most this many items in one batch (one workflow, one activity input). */
export const MAX_BATCH_ITEMS = 500;
/**
 * At most this many bytes of items (JSON) in one batch: Temporal warns above 512 KB per payload and
 * refuses 2 MB; the activity input and its heartbeat stay well under.
 */
export const MAX_BATCH_BYTES = 256 * 1024;
/** At most this many items in one `sendInBulk` call (a larger set: several calls with their own batch IDs). */
export const MAX_BULK_ITEMS = 100_000;
/** Calls in flight per batch. @default 10 */
export const DEFAULT_BULK_CONCURRENCY = 10;
export const MAX_BULK_CONCURRENCY = 100;
/** Item keys and batch IDs: they go into workflow IDs and idempotency keys (never put secrets or PII in them). */
export const BULK_ID_PATTERN = /^[A-Za-z0-9._:-]{1,100}$/;

/** Seconds of items at the declared rate per chunk: fewer activities (and history events) per batch, coarser pacing. */
export const BULK_CHUNK_SECONDS = 5;

/** The chunk size for a declared rate R: max(1, round(R x 5 s)), at most a batch. */
export function bulkChunkItems(ratePerSecond: number): number {
  return Math.max(1, Math.min(MAX_BATCH_ITEMS, Math.round(ratePerSecond * BULK_CHUNK_SECONDS)));
}

/**
 * The server-side activity rate of an integration's bulk queue: chunk starts per second for the fleet, so
 * items per second stay at the declared rate however many worker processes serve it.
 */
export function bulkQueueRatePerSecond(ratePerSecond: number): number {
  return ratePerSecond / bulkChunkItems(ratePerSecond);
}

/** One item: its key (unique in the batch ID) and the endpoint's input, as `ActivityInput` takes it. */
export interface BulkItem {
  key: string;
  params?: unknown;
  query?: unknown;
  body?: unknown;
  variables?: unknown;
}

export interface SendInBulkInput {
  integration: string;
  endpoint: string;
  /** The caller's batch ID and this batch's index among its batches (the workflow ID is made of them). */
  batchId: string;
  batchIndex: number;
  items: BulkItem[];
  /** Calls in flight at once in the activity. */
  concurrency: number;
  /** Whether the endpoint is a write (sent with a key); a safe read is sent without one. */
  write: boolean;
  /**
   * How long the activity may go on retrying, all attempts together (ms): inside the provider's key
   * retention, so every resend of an item is deduplicated by its key.
   */
  budgetMs: number;
  /**
   * The items were sent before and may have been applied (an operator's `retry` of the items whose outcome
   * stayed unknown): a failure of a resend is never taken for "not applied".
   */
  resend?: boolean;
  /**
   * Set for an integration that declares `traffic.ratePerSecond` (the client computes it with
   * {@link bulkChunkItems}): the batch runs as chunks of this many items, one activity each, on the
   * integration's bulk queue, whose server-side rate keeps the fleet's items near the declared rate.
   */
  chunkItems?: number;
}

/** An item that did not succeed, with why (the failure type and a short message; no bodies). */
export interface BulkItemFailure {
  key: string;
  type: string;
  message: string;
}

/** What the activity reports (and heartbeats, so a retried execution resumes from it). */
export interface BulkSendProgress {
  /** Keys of the items that succeeded (including those found by lookup). */
  ok: string[];
  /** Definite failures (e.g. a 4xx): recorded, not retried. */
  failed: BulkItemFailure[];
  /**
   * Writes whose outcome could not be settled (no lookup, or the lookup failed, after every resend with
   * the same key): an operator checks them with the provider; resending the batch resends only these
   * and the unfinished ones, with the same keys.
   */
  unknown: BulkItemFailure[];
  /** Items settled by the endpoint's lookup after an unknown outcome. */
  foundByLookup: number;
  /** Requests sent again after a failure (same key). */
  resends: number;
}

/** A batch's result: counts, and the keys that did not succeed (at most {@link MAX_LISTED_FAILURES} of each). */
/** What a batch, or a whole request, did with its items. */
export interface BulkCounts {
  items: number;
  succeeded: number;
  failed: number;
  unknown: number;
  foundByLookup: number;
  resends: number;
  failures: BulkItemFailure[];
  unknowns: BulkItemFailure[];
}

export interface BulkBatchSummary extends BulkCounts {
  batchId: string;
  batchIndex: number;
  integration: string;
  endpoint: string;
  /**
   * Every unknown item's key, when there are more than {@link MAX_LISTED_FAILURES} (else the keys of
   * `unknowns`): what an operator's `retry` resends.
   */
  unknownKeys?: string[];
  /** Items whose outcome stayed unknown and an operator accepted as they are (`skip`); their keys (at most 100). */
  skipped?: number;
  skippedKeys?: string[];
  /** Operator `retry` decisions carried out (each resent the unknown items with their keys). */
  operatorRetries?: number;
}

export const MAX_LISTED_FAILURES = 100;

export interface BulkBatchStatus {
  /**
   * `parked`: items' outcomes stayed unknown; an operator decides (`parkedState` says which and why).
   * `cancelled`, `terminated`: the workflow was ended from outside while it sent or was parked, its items
   * partly sent (no summary: sending the batch again runs it anew, every item with its key). The client
   * (`BulkHandle.status()`) says so from the execution's status; the query answers what the batch was doing.
   */
  state: 'sending' | 'parked' | 'completed' | 'failed' | 'cancelled' | 'terminated';
  items: number;
  /** Set once the batch is done. */
  summary?: BulkBatchSummary;
  /**
   * While sending: the counts in the activity's last heartbeat (a few seconds behind), read by the
   * client (`BulkHandle.status()`), not by the query.
   */
  progress?: { succeeded: number; failed: number; unknown: number };
}

/** A batch's status (query); answers on a closed batch too. */
export const bulkBatchStatus = defineQuery<BulkBatchStatus>('bulkBatchStatus');

/**
 * A batch's workflow ID: integration, endpoint, the caller's batch ID and the batch's index. The same
 * items sent again under the same batch ID map to the same workflows: nothing is sent twice.
 */
export function bulkBatchWorkflowId(integration: string, endpoint: string, batchId: string, index: number): string {
  return `bulk-${integration}-${endpoint}-${batchId}-${index}`;
}

/**
 * An item's idempotency key: the batch's workflow ID and the item's key, never a run ID, so every
 * attempt, activity retry and repeated enqueue of the item sends the same key.
 */
export function bulkItemKey(batchWorkflowId: string, itemKey: string): string {
  return `${batchWorkflowId}:${itemKey}`;
}

/** The summary of a batch from the activity's progress. */
export function summarize(input: SendInBulkInput, progress: BulkSendProgress): BulkBatchSummary {
  return {
    batchId: input.batchId,
    batchIndex: input.batchIndex,
    integration: input.integration,
    endpoint: input.endpoint,
    items: input.items.length,
    succeeded: progress.ok.length,
    failed: progress.failed.length,
    unknown: progress.unknown.length,
    foundByLookup: progress.foundByLookup,
    resends: progress.resends,
    failures: progress.failed.slice(0, MAX_LISTED_FAILURES),
    unknowns: progress.unknown.slice(0, MAX_LISTED_FAILURES),
    ...(progress.unknown.length > MAX_LISTED_FAILURES ? { unknownKeys: progress.unknown.map((f) => f.key) } : {}),
  };
}

/** Several batches' or chunks' counts added up, the listed failures capped at {@link MAX_LISTED_FAILURES}. */
export function addCounts(parts: BulkCounts[]): BulkCounts {
  const sum = (pick: (s: BulkCounts) => number) => parts.reduce((n, s) => n + pick(s), 0);
  return {
    items: sum((s) => s.items),
    succeeded: sum((s) => s.succeeded),
    failed: sum((s) => s.failed),
    unknown: sum((s) => s.unknown),
    foundByLookup: sum((s) => s.foundByLookup),
    resends: sum((s) => s.resends),
    failures: parts.flatMap((s) => s.failures).slice(0, MAX_LISTED_FAILURES),
    unknowns: parts.flatMap((s) => s.unknowns).slice(0, MAX_LISTED_FAILURES),
  };
}

/** A chunked batch's summary from its chunks' summaries, in order. */
export function combineChunks(input: SendInBulkInput, parts: BulkBatchSummary[]): BulkBatchSummary {
  const unknownKeys = parts.flatMap(unknownKeysOf);
  return {
    batchId: input.batchId,
    batchIndex: input.batchIndex,
    integration: input.integration,
    endpoint: input.endpoint,
    ...addCounts(parts),
    items: input.items.length,
    ...(unknownKeys.length > MAX_LISTED_FAILURES ? { unknownKeys } : {}),
  };
}

/** The keys of a batch's items whose outcome is unknown (all of them). */
export function unknownKeysOf(summary: BulkBatchSummary): string[] {
  return summary.unknownKeys ?? summary.unknowns.map((f) => f.key);
}

/** A batch's summary after an operator's `retry` resent its unknown items (`again` is the resend's summary). */
export function afterResend(before: BulkBatchSummary, again: BulkBatchSummary): BulkBatchSummary {
  const { unknownKeys: _dropped, ...kept } = before;
  return {
    ...kept,
    succeeded: before.succeeded + again.succeeded,
    failed: before.failed + again.failed,
    unknown: again.unknown,
    foundByLookup: before.foundByLookup + again.foundByLookup,
    resends: before.resends + again.resends,
    failures: [...before.failures, ...again.failures].slice(0, MAX_LISTED_FAILURES),
    unknowns: again.unknowns,
    ...(again.unknownKeys ? { unknownKeys: again.unknownKeys } : {}),
    operatorRetries: (before.operatorRetries ?? 0) + 1,
  };
}

/** A batch's summary after an operator accepted its unknown items as they are (`skip`). */
export function afterSkip(before: BulkBatchSummary): BulkBatchSummary {
  const keys = unknownKeysOf(before);
  const { unknownKeys: _dropped, ...kept } = before;
  return {
    ...kept,
    unknown: 0,
    unknowns: [],
    skipped: (before.skipped ?? 0) + keys.length,
    skippedKeys: [...(before.skippedKeys ?? []), ...keys].slice(0, MAX_LISTED_FAILURES),
  };
}

/**
 * What is wrong with an item's input for the endpoint's schemas (the first issue), or undefined. The client
 * refuses such a request up front; the activity records such an item as failed instead of sending it.
 */
export function bulkItemProblem(
  spec: Pick<EndpointSpec, 'params' | 'query' | 'body'>,
  item: BulkItem,
): string | undefined {
  for (const part of ['params', 'query', 'body'] as const) {
    const schema = spec[part];
    if (!schema) continue;
    const parsed = schema.safeParse(item[part]);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return `${part}${issue?.path.length ? `.${issue.path.join('.')}` : ''}: ${issue?.message ?? 'invalid'}`;
    }
  }
  return undefined;
}
