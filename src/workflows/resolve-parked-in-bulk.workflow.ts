import {
  CancellationScope,
  continueAsNew,
  isCancellation,
  log,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  sleep,
  workflowInfo,
} from '@temporalio/workflow';
import type { BulkResolveActivities, TargetResult } from '../activities/bulk-resolve.activities';
import {
  BULK_RESOLVE_TASK_QUEUE,
  DEFAULT_BULK_RATE_PER_SECOND,
  MAX_BULK_RATE_PER_SECOND,
  MAX_BULK_TARGETS,
  bulkResolveProgress,
  type BulkResolveProgress,
  type BulkResolveRequest,
} from '../contracts/bulk-resolve';

export interface ResolveParkedInBulkInput {
  request: BulkResolveRequest;
  /** Set by continue-as-new: the targets not sent yet and the counts so far. */
  carried?: { targets: string[]; progress: BulkResolveProgress };
  /** Continue-as-new after this many windows (one window is a second's worth of Updates). @default 200 */
  windowsPerRun?: number;
}

/** Listing reads visibility: quick, and safe to retry (a page is read again). */
const { bulkListParked } = proxyActivities<BulkResolveActivities>({
  taskQueue: BULK_RESOLVE_TASK_QUEUE,
  startToCloseTimeout: '1 minute',
  retry: { maximumAttempts: 10, maximumInterval: '10 seconds' },
});

/**
 * One window of Updates. A crashed worker is noticed within the heartbeat timeout and the window is sent
 * again: each Update carries a fixed ID (job + target), so a target that already accepted ours answers with
 * that first outcome, and one that has moved on refuses in its validator. No target gets two decisions.
 */
const { bulkSendDecisions } = proxyActivities<BulkResolveActivities>({
  taskQueue: BULK_RESOLVE_TASK_QUEUE,
  startToCloseTimeout: '2 minutes',
  heartbeatTimeout: '15 seconds',
  retry: { maximumAttempts: 5, maximumInterval: '10 seconds' },
});

const SAMPLES = 5;

/**
 * Resolves every running workflow a visibility query matches with one operator decision (the Update
 * `resolveParked`), at a bounded rate, after an outage. The matches are listed once, first: workflows
 * that park while the job runs are not included. Each target's own validator decides; a refusal is
 * counted, not retried. Progress: query `bulkResolveProgress` and the UI's details panel. Cancelling the
 * job lets the window in flight finish, sends nothing more and returns what was done (state `cancelled`).
 */
export async function resolveParkedInBulk(input: ResolveParkedInBulkInput): Promise<BulkResolveProgress> {
  const { request } = input;
  const rate = Math.min(
    Math.max(request.ratePerSecond ?? DEFAULT_BULK_RATE_PER_SECOND, 0.01),
    MAX_BULK_RATE_PER_SECOND,
  );
  const progress: BulkResolveProgress = input.carried?.progress ?? {
    state: 'listing',
    matched: 0,
    truncated: false,
    processed: 0,
    resolved: 0,
    notParked: 0,
    alreadyDecided: 0,
    rejected: 0,
    failed: 0,
    rejections: [],
    failures: [],
    ratePerSecond: rate,
    startedAt: new Date(Date.now()).toISOString(),
    runs: 1,
  };
  setHandler(bulkResolveProgress, () => progress);
  let targets = input.carried?.targets ?? [];
  const show = () => setCurrentDetails(details(request, progress));
  show();
  try {
    if (!input.carried) {
      targets = await snapshot(request.query, progress);
      progress.state = 'sending';
      show();
      log.info('bulk resolution: matches listed', { matched: progress.matched, truncated: progress.truncated });
    }
    const windowSize = Math.max(1, Math.ceil(rate));
    const windowMs = (windowSize / rate) * 1000;
    const windowsPerRun = Math.max(1, input.windowsPerRun ?? 200);
    for (let windows = 1; targets.length > 0; windows++) {
      const batch = targets.slice(0, windowSize);
      const began = Date.now();
      // Not cancellable: Updates already on their way are counted before the job stops.
      const results = await CancellationScope.nonCancellable(() =>
        bulkSendDecisions({ jobWorkflowId: workflowInfo().workflowId, targets: batch, decision: request.decision }),
      ).catch((err: unknown): TargetResult[] =>
        batch.map((workflowId) => ({ workflowId, outcome: 'failed', reason: messageOf(err) })),
      );
      count(progress, results);
      targets = targets.slice(batch.length);
      show();
      if (targets.length === 0) break;
      if (CancellationScope.current().consideredCancelled) throw new CancelledByOperator();
      const wait = windowMs - (Date.now() - began);
      if (wait >= 1) await sleep(wait);
      if (windows >= windowsPerRun || workflowInfo().continueAsNewSuggested) {
        return await continueAsNew<typeof resolveParkedInBulk>({
          request,
          windowsPerRun: input.windowsPerRun,
          carried: { targets, progress: { ...progress, runs: progress.runs + 1 } },
        });
      }
    }
    progress.state = 'completed';
  } catch (err) {
    if (!(err instanceof CancelledByOperator) && !isCancellation(err)) throw err;
    progress.state = 'cancelled';
    log.warn('bulk resolution cancelled', { processed: progress.processed, left: targets.length });
  }
  show();
  return progress;
}

class CancelledByOperator extends Error {}

/** The matches, page by page, each running workflow once, at most {@link MAX_BULK_TARGETS}. */
async function snapshot(query: string, progress: BulkResolveProgress): Promise<string[]> {
  const seen = new Set<string>();
  let pageToken: string | undefined;
  do {
    const page = await bulkListParked({ query, pageToken });
    for (const id of page.workflowIds) {
      if (seen.size >= MAX_BULK_TARGETS) {
        progress.truncated = true;
        break;
      }
      seen.add(id);
    }
    progress.matched = seen.size;
    pageToken = progress.truncated ? undefined : page.nextPageToken;
  } while (pageToken);
  return [...seen];
}

function count(progress: BulkResolveProgress, results: TargetResult[]): void {
  for (const r of results) {
    progress.processed++;
    progress[r.outcome]++;
    const samples =
      r.outcome === 'rejected' ? progress.rejections : r.outcome === 'failed' ? progress.failures : undefined;
    const reason = r.reason ?? r.outcome;
    if (samples && samples.length < SAMPLES && !samples.some((s) => s.reason === reason))
      samples.push({ reason, workflowId: r.workflowId });
  }
}

function messageOf(err: unknown): string {
  const cause = (err as { cause?: unknown }).cause;
  return (cause instanceof Error ? cause.message : err instanceof Error ? err.message : String(err)).slice(0, 300);
}

/** The UI's details panel: the request, the counts and how to stop it. */
function details(request: BulkResolveRequest, p: BulkResolveProgress): string {
  const id = workflowInfo().workflowId;
  const lines = [
    `**Bulk resolution: ${p.state}** (${p.processed} of ${p.matched} done${p.truncated ? ', more matched: run again for the rest' : ''})`,
    `Decision \`${request.decision.action}\` at ${p.ratePerSecond}/s for \`${request.query}\`, by ${request.requestedBy}: ${request.reason}`,
    `Resolved ${p.resolved}, not parked any more ${p.notParked}, already decided ${p.alreadyDecided}, rejected ${p.rejected}, failed ${p.failed}.`,
    ...p.rejections.map((s) => `Rejected (e.g. \`${s.workflowId}\`): ${s.reason}`),
    ...p.failures.map((s) => `Failed (e.g. \`${s.workflowId}\`): ${s.reason}`),
  ];
  if (p.state === 'listing' || p.state === 'sending')
    lines.push(`Stop it with \`npm run ops -- cancel ${id}\` (the window in flight finishes).`);
  return lines.join('\n\n');
}
