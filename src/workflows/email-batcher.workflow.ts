import type { Duration } from '@temporalio/common';
import {
  ApplicationFailure,
  CancellationScope,
  allHandlersFinished,
  condition,
  continueAsNew,
  isCancellation,
  log,
  patched,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import { checkEmailMessage, MAX_BATCH_MESSAGES } from '../integrations/email/email-message';
import { durationMs } from '../integrations/kit/duration';
import { integrationViews } from '../integrations/manifest.generated';
import { proxyIntegration } from './integration-proxy';
import { batcherState, queueEmail, type BatchFlush, type BatcherState, type QueuedEmail } from '../contracts/messages';
import { failureSummary, runStep } from './patterns/steps';

const mail = proxyIntegration(integrationViews.email);

/** A queued message and the workflow time it was queued (the timer counts from the oldest one). */
export interface PendingEmail {
  message: QueuedEmail;
  queuedAt: number;
}

export interface EmailBatcherInput {
  /** Flush as soon as this many messages wait; 1 to {@link MAX_BATCH_MESSAGES}. @default 100 */
  maxBatchSize?: number;
  /** Flush this long after the oldest waiting message was queued, full or not. @default 10 seconds */
  maxWait?: Duration;
  /** Continue-as-new after this many flushes, so one run's history stays short. @default 100 */
  flushesPerRun?: number;
  /** Set by continue-as-new: what the previous run had not sent yet, and its counters. */
  carried?: {
    pending: PendingEmail[];
    state: Omit<BatcherState, 'pending' | 'flushBy'>;
    /** The run ID this chain of runs started with: part of every batch key (absent in older runs). */
    chain?: string;
  };
}

const RECENT_FLUSHES = 20;

/**
 * Accumulates emails received by signal (`queueEmail`) and sends them with `email.sendBatch`: one
 * request (one rate-limit slot) per batch. A batch leaves when it is full or when its oldest message has
 * waited `maxWait`. Each flush is a keyed durable step (`batch-<n>`, numbered across continue-as-new, keyed
 * with the chain's first run ID so a batcher started again after it ended never reuses a key), so
 * a retried or resent flush is delivered once. Messages leave the queue only once their batch is settled;
 * continue-as-new carries the rest. Cancelling it flushes what waits, then it returns its counters.
 */
export async function emailBatcher(input: EmailBatcherInput = {}): Promise<BatcherState> {
  const maxBatchSize = Math.min(Math.max(1, Math.floor(input.maxBatchSize ?? MAX_BATCH_MESSAGES)), MAX_BATCH_MESSAGES);
  const maxWaitMs = durationMs(input.maxWait ?? '10 seconds');
  const flushesPerRun = Math.max(1, input.flushesPerRun ?? 100);
  const pending: PendingEmail[] = [...(input.carried?.pending ?? [])];
  const counters = input.carried?.state ?? { flushes: 0, sent: 0, rejected: 0, refused: 0, recent: [] };
  // Batch numbers start again at 1 when the batcher is started again after it ended: the chain's own run
  // ID (kept across continue-as-new and resets) keeps its keys apart from the earlier chain's.
  const chain = input.carried
    ? input.carried.chain
    : patched('batch-key-per-chain')
      ? workflowInfo().originalExecutionRunId
      : undefined;

  const state = (): BatcherState => ({
    ...counters,
    pending: pending.length,
    ...(pending[0] ? { flushBy: new Date(pending[0].queuedAt + maxWaitMs).toISOString() } : {}),
    recent: [...counters.recent],
  });
  setHandler(batcherState, state);
  setHandler(queueEmail, (message) => {
    // A signal cannot be refused: a malformed message is dropped here, before it can sink a whole batch.
    // The rules of the provider's `EmailMessage` schema, checked without zod (the bundle carries none).
    const checked = checkEmailMessage(message);
    if (!checked.ok) {
      counters.rejected += 1;
      log.warn('queueEmail: malformed message dropped', { issues: checked.fields });
      return;
    }
    pending.push({ message: checked.message, queuedAt: Date.now() });
  });

  async function flush(reason: BatchFlush['reason']): Promise<void> {
    const batch = pending.slice(0, maxBatchSize);
    const n = counters.flushes + 1;
    const step = `batch-${n}`;
    let outcome: BatchFlush['outcome'] = 'sent';
    try {
      await runStep(
        step,
        mail.sendBatch,
        { body: { messages: batch.map((p) => p.message) } },
        {
          summary: `${step}: ${batch.length} messages (${reason})`,
          ...(chain ? { key: `${workflowInfo().workflowId}:${chain}:${step}` } : {}),
        },
      );
      counters.sent += batch.length;
    } catch (err) {
      if (isCancellation(err)) throw err;
      if (err instanceof ApplicationFailure && err.type === 'OperatorFailed') throw err;
      // A definite refusal of the whole batch (4xx): resending cannot help, and it must not block the queue.
      outcome = 'refused';
      counters.refused += batch.length;
      log.error('email batch refused by the provider; its messages are dropped', {
        step,
        messages: batch.length,
        failure: failureSummary(err),
      });
    }
    pending.splice(0, batch.length);
    counters.flushes = n;
    counters.recent = [...counters.recent, { batch: n, size: batch.length, reason, outcome }].slice(-RECENT_FLUSHES);
  }

  try {
    for (let flushes = 0; ;) {
      if (flushes >= flushesPerRun || workflowInfo().continueAsNewSuggested) {
        await condition(allHandlersFinished);
        return await continueAsNew<typeof emailBatcher>({
          ...input,
          carried: { pending, state: { ...counters }, ...(chain ? { chain } : {}) },
        });
      }
      await condition(() => pending.length > 0);
      const waitMs = pending[0]!.queuedAt + maxWaitMs - Date.now();
      const full =
        pending.length >= maxBatchSize ||
        (waitMs > 0 && (await condition(() => pending.length >= maxBatchSize, waitMs)));
      await flush(full ? 'size' : 'timer');
      flushes += 1;
    }
  } catch (err) {
    if (!isCancellation(err)) throw err;
    // Stopping: what was queued is still sent (the flushes themselves must not be cancelled).
    await CancellationScope.nonCancellable(async () => {
      while (pending.length > 0) await flush('drain');
    });
    return state();
  }
}
