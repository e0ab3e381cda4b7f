import type { Duration } from '@temporalio/common';
import { durationMs } from '../integrations/kit/duration';
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  condition,
  continueAsNew,
  isCancellation,
  setHandler,
  TimeoutFailure,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import { FailureType } from '../integrations/kit/failures';
import type { DocumentJob } from '../integrations/documents/documents.integration';
import { integrationViews } from '../integrations/manifest.generated';
import { proxyPoller } from './integration-proxy';
import { documentJobFinished, type DocumentJobResult } from '../contracts/messages';
import { WorkflowStage } from '../contracts/search-attributes';

/**
 * How to wait for a job:
 * - `heartbeat`: expected in seconds: one activity polls every 500 ms and heartbeats;
 * - `retry`: expected in minutes: a check-once activity, retried by Temporal every `interval`;
 * - `timers`: expected in hours or days: a check, then a durable timer, repeated; continue-as-new every
 *   `pollsPerRun` checks keeps the history bounded.
 * In every mode the provider's completion webhook (signal `documentJobFinished`, sent by the webhook
 * receiver) ends the wait early; whichever comes first wins, a late or duplicate webhook is ignored.
 */
export interface AwaitDocumentJobInput {
  jobId: string;
  /** Epoch ms by which the job must be finished; past it the workflow fails with `DeadlineExceeded`. */
  deadline: number;
  mode: 'heartbeat' | 'retry' | 'timers';
  /** Gap between checks in `retry` and `timers` modes. @default 30 seconds */
  interval?: Duration;
  /** `timers` mode: checks per run before continue-as-new. @default 100 */
  pollsPerRun?: number;
  /** Carried across continue-as-new. */
  polls?: number;
}

/** Waits for a document job by polling or by webhook, whichever comes first, within a deadline. */
export async function awaitDocumentJob(input: AwaitDocumentJobInput): Promise<DocumentJobResult> {
  let result: DocumentJobResult | undefined;
  setHandler(documentJobFinished, (r) => {
    result ??= r; // the first answer wins; duplicates and late webhooks change nothing
  });
  upsertSearchAttributes([{ key: WorkflowStage, value: `awaiting:${input.mode}` }]);
  const remaining = () => input.deadline - Date.now();
  const fromJob = (job: DocumentJob): DocumentJobResult => ({
    jobId: job.jobId,
    status: job.status === 'completed' ? 'completed' : 'failed',
    documentUrl: job.documentUrl,
    source: 'poll',
  });

  if (input.mode === 'timers') {
    const checkOnce = proxyPoller(integrationViews.documents, 'awaitJob', 'getJob', { mode: 'once' });
    let polls = input.polls ?? 0;
    for (let i = 0; i < (input.pollsPerRun ?? 100); i++) {
      if (result) return result;
      if (remaining() <= 0) throw deadlineExceeded(input);
      polls++;
      try {
        return fromJob(await checkOnce({ params: { jobId: input.jobId } }, { summary: `check job ${polls}` }));
      } catch (err) {
        if (!isNotReady(err)) throw err;
      }
      const interval = Math.min(durationMs(input.interval ?? '30 seconds'), Math.max(remaining(), 0));
      if (await condition(() => result !== undefined, interval)) return result!;
    }
    if (result) return result;
    return continueAsNew<typeof awaitDocumentJob>({ ...input, polls });
  }

  const poll = proxyPoller(
    integrationViews.documents,
    'awaitJob',
    'getJob',
    input.mode === 'heartbeat'
      ? { mode: 'heartbeat', deadline: Math.max(remaining(), 1) }
      : { mode: 'retry', interval: input.interval ?? '30 seconds', deadline: Math.max(remaining(), 1) },
  );
  let pollFailure: unknown;
  const scope = new CancellationScope();
  const polling = scope
    .run(() => poll({ params: { jobId: input.jobId } }, { summary: `poll job (${input.mode})` }))
    .then(
      (job) => {
        result ??= fromJob(job);
      },
      (err: unknown) => {
        if (!isCancellation(err)) pollFailure = err;
      },
    );
  await condition(() => result !== undefined || pollFailure !== undefined, Math.max(remaining(), 1));
  scope.cancel(); // a webhook won: stop polling
  await polling;
  if (result) return result;
  // A poll that ran out of time is the deadline speaking; any other poll failure is its own story.
  if (pollFailure && remaining() > 0 && !isTimeout(pollFailure)) throw pollFailure as Error;
  throw deadlineExceeded(input);
}

function deadlineExceeded(input: AwaitDocumentJobInput): ApplicationFailure {
  return ApplicationFailure.create({
    type: FailureType.DeadlineExceeded,
    message: `document job ${input.jobId} not finished by ${new Date(input.deadline).toISOString()}`,
    nonRetryable: true,
  });
}

function isNotReady(err: unknown): boolean {
  return (
    err instanceof ActivityFailure && err.cause instanceof ApplicationFailure && err.cause.type === FailureType.NotReady
  );
}

/** The poll activity ran out of time (its timeouts are the deadline), or was still not ready. */
function isTimeout(err: unknown): boolean {
  return (
    err instanceof ActivityFailure &&
    (err.cause instanceof TimeoutFailure || err.retryState === 'TIMEOUT' || isNotReady(err))
  );
}
