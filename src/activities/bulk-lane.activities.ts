import { setMaxListeners } from 'node:events';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import {
  BULK_LANE_ACTIVITY,
  bulkItemKey,
  bulkItemProblem,
  summarize,
  type BulkBatchSummary,
  type BulkItem,
  type BulkItemFailure,
  type BulkSendProgress,
  type SendInBulkInput,
} from '../contracts/bulk-lane';
import type { Integration } from '../integrations/kit/define';
import { durationMs } from '../integrations/kit/duration';
import { FailureType, semanticsOf } from '../integrations/kit/failures';
import type { IntegrationEngine } from '../integrations/runtime/engine';

/** Attempts per item in one activity execution before its failure is taken as it is. */
const MAX_ITEM_ATTEMPTS = 6;
/** Backoff between an item's attempts: 200 ms, 400 ms, ... capped (or the provider's Retry-After). */
const ITEM_BACKOFF_MS = 200;
const MAX_ITEM_BACKOFF_MS = 10_000;

type ItemResult =
  | { kind: 'ok'; foundByLookup: boolean }
  | { kind: 'failed'; failure: BulkItemFailure }
  | { kind: 'unknown'; failure: BulkItemFailure }
  /** The integration cannot take calls now (breaker open, switched off, credentials): the batch waits. */
  | { kind: 'blocked'; error: ApplicationFailure };

/**
 * The lane's activity for one integration: every item of a batch through `IntegrationEngine.call` (the
 * same call path as an endpoint's own activity: pacing, breaker, kill switch, auth, classification), at
 * most `concurrency` at once, each with its key (batch workflow ID + item key). Progress (done keys)
 * is heartbeated; an execution retried after a crash (heartbeat timeout) sends only the items not done,
 * with the same keys, so an item applied by the crashed attempt is answered by the provider's
 * deduplication, not applied again. Answers the batch's summary (counts and failed keys).
 */
export function createBulkLaneActivities(engine: IntegrationEngine, integration: Integration) {
  // The declared concurrency holds for the process's calls to the integration, however many batches run.
  const limit = integration.traffic?.concurrency;
  const slots = limit !== undefined ? new Slots(limit) : undefined;
  return {
    [BULK_LANE_ACTIVITY]: (input: SendInBulkInput) => sendBatch(engine, integration, input, slots),
  };
}

/** At most `size` holders at once; the others wait in order. */
export class Slots {
  private free: number;
  private readonly waiting: (() => void)[] = [];

  constructor(size: number) {
    this.free = Math.max(1, size);
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.free > 0) this.free--;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    try {
      return await fn();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.free++;
    }
  }
}

async function sendBatch(
  engine: IntegrationEngine,
  integration: Integration,
  input: SendInBulkInput,
  slots: Slots | undefined,
): Promise<BulkBatchSummary> {
  const ctx = Context.current();
  const spec = integration.endpoints[input.endpoint];
  if (!spec)
    throw ApplicationFailure.nonRetryable(`${integration.name} has no endpoint ${input.endpoint}`, 'Misconfigured');
  const resumed = ctx.info.heartbeatDetails as BulkSendProgress | undefined;
  const progress: BulkSendProgress = resumed ?? { ok: [], failed: [], unknown: [], foundByLookup: 0, resends: 0 };
  const done = new Set([...progress.ok, ...progress.failed.map((f) => f.key), ...progress.unknown.map((f) => f.key)]);
  // A retried execution does not know which items the crashed one had in flight: any may have applied;
  // an operator's resend of unknown items neither.
  const retried = ctx.info.attempt > 1 || input.resend === true;
  const todo = input.items.filter((item) => !done.has(item.key));
  const batchWorkflowId = ctx.info.workflowExecution?.workflowId;
  if (!batchWorkflowId) throw ApplicationFailure.nonRetryable('the lane runs only from its workflow', 'Misconfigured');
  // Every call in flight listens to the activity's cancellation.
  setMaxListeners(input.concurrency + 10, ctx.cancellationSignal);
  let blocked: ApplicationFailure | undefined;
  let next = 0;

  // Heartbeats go on while every item in flight waits (a backoff, the rate limiter): a live worker is never
  // taken for a crashed one; a crashed one is noticed within the heartbeat timeout.
  const beat = setInterval(() => ctx.heartbeat(progress), 1000);
  const lane = async () => {
    while (blocked === undefined && next < todo.length) {
      const item = todo[next++]!;
      const result = await sendItem(engine, integration, input, item, bulkItemKey(batchWorkflowId, item.key), {
        retried,
        progress,
        slots,
      });
      switch (result.kind) {
        case 'ok':
          progress.ok.push(item.key);
          if (result.foundByLookup) progress.foundByLookup++;
          break;
        case 'failed':
          progress.failed.push(result.failure);
          break;
        case 'unknown':
          progress.unknown.push(result.failure);
          break;
        case 'blocked':
          blocked ??= result.error;
          break;
      }
      ctx.heartbeat(progress); // throttled by the SDK; the last details are sent before the activity ends
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.max(1, Math.min(input.concurrency, todo.length)) }, lane));
  } finally {
    clearInterval(beat);
  }
  ctx.heartbeat(progress);
  // Temporal retries the activity (with its backoff); the next execution resumes from the heartbeat.
  if (blocked) throw blocked;
  return summarize(input, progress);
}

/** One item to its end: sent, retried with the same key while that may help, settled by lookup if unknown. */
async function sendItem(
  engine: IntegrationEngine,
  integration: Integration,
  input: SendInBulkInput,
  item: BulkItem,
  key: string,
  state: { retried: boolean; progress: BulkSendProgress; slots: Slots | undefined },
): Promise<ItemResult> {
  const ctx = Context.current();
  const spec = integration.endpoints[input.endpoint]!;
  // A bad input is this item's problem, not the batch's (the engine's own check says Misconfigured, which stops a batch).
  const invalid = bulkItemProblem(spec, item);
  if (invalid)
    return { kind: 'failed', failure: { key: item.key, type: 'Misconfigured', message: invalid.slice(0, 200) } };
  const call = { ...pick(item), ...(input.write ? { key } : {}) };
  let mayHaveApplied = input.write && state.retried;
  // Attempts that count: a request the provider or the limiter refused for pace (RateLimited) applied
  // nothing and waits as long as it is asked to; the activity's own timeout bounds the whole batch.
  let attempt = 1;
  for (let sent = 1; ; sent++) {
    try {
      const send = () =>
        engine.call(integration, input.endpoint, call, {
          attempt: state.retried ? sent + 1 : sent,
          workflowId: ctx.info.workflowExecution?.workflowId,
          activityId: ctx.info.activityId,
          signal: ctx.cancellationSignal,
        });
      await (state.slots ? state.slots.run(send) : send());
      return { kind: 'ok', foundByLookup: false };
    } catch (err) {
      if (ctx.cancellationSignal.aborted) throw err;
      const failure = asFailure(err);
      const meaning = semanticsOf(failure.type);
      // A failure after a resend proves nothing about the sends before it (as in runStep).
      if (input.write && (meaning.ambiguousOnWrite || attempt > 1)) mayHaveApplied = true;
      // Nothing was sent (breaker open, kill switch) or only an operator can fix it: the whole batch waits.
      if (
        failure.type === FailureType.CircuitOpen ||
        failure.type === FailureType.KillSwitch ||
        meaning.operatorFixable
      )
        return {
          kind: 'blocked',
          // Retryable whatever the engine said: the batch waits for the breaker, the switch or the fix.
          error: ApplicationFailure.create({
            type: failure.type ?? 'Error',
            message: `${item.key}: ${failure.message}; the batch waits and tries again (done items are kept)`,
            nextRetryDelay: failure.nextRetryDelay ?? undefined,
          }),
        };
      if (failure.type === FailureType.RateLimited) {
        await ctx.sleep(retryDelayMs(failure, 1));
        continue;
      }
      if (meaning.retryable && attempt < MAX_ITEM_ATTEMPTS) {
        if (input.write) state.progress.resends++;
        await ctx.sleep(retryDelayMs(failure, attempt++));
        continue;
      }
      const described = { key: item.key, type: failure.type ?? 'Error', message: failure.message.slice(0, 200) };
      if (!mayHaveApplied) return { kind: 'failed', failure: described };
      // A write that may have applied: the declared lookup settles it; without one it stays unknown.
      if (spec.lookup) {
        const found = await lookUp(engine, integration, spec.lookup, key);
        if (found === 'found') return { kind: 'ok', foundByLookup: true };
        if (found === 'not-found' && !meaning.ambiguousOnWrite) return { kind: 'failed', failure: described };
      }
      return { kind: 'unknown', failure: described };
    }
  }
}

async function lookUp(
  engine: IntegrationEngine,
  integration: Integration,
  lookup: NonNullable<Integration['endpoints'][string]['lookup']>,
  key: string,
): Promise<'found' | 'not-found' | 'unavailable'> {
  const ctx = Context.current();
  for (let attempt = 1; attempt <= 3; attempt++) {
    try {
      const value = await engine.call(integration, lookup.endpoint, lookup.input(key), {
        attempt,
        workflowId: ctx.info.workflowExecution?.workflowId,
        activityId: ctx.info.activityId,
        signal: ctx.cancellationSignal,
      });
      return value === null ? 'not-found' : 'found';
    } catch (err) {
      if (ctx.cancellationSignal.aborted) throw err;
      await ctx.sleep(retryDelayMs(asFailure(err), attempt));
    }
  }
  return 'unavailable';
}

function pick(item: BulkItem): Omit<BulkItem, 'key'> {
  const { params, query, body, variables } = item;
  return {
    ...(params !== undefined ? { params } : {}),
    ...(query !== undefined ? { query } : {}),
    ...(body !== undefined ? { body } : {}),
    ...(variables !== undefined ? { variables } : {}),
  };
}

function asFailure(err: unknown): ApplicationFailure {
  if (err instanceof ApplicationFailure) return err;
  const message = err instanceof Error ? err.message : String(err);
  return ApplicationFailure.create({ message, type: 'Error' });
}

/** The provider's (or the limiter's) delay when it gave one, else exponential from 200 ms. */
function retryDelayMs(failure: ApplicationFailure, attempt: number): number {
  const asked = failure.nextRetryDelay;
  const askedMs = asked !== undefined && asked !== null ? durationMs(asked) : undefined;
  return Math.min(askedMs ?? ITEM_BACKOFF_MS * 2 ** (attempt - 1), MAX_ITEM_BACKOFF_MS);
}
