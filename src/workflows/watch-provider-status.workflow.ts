import type { Duration } from '@temporalio/common';
import { continueAsNew, log, proxyActivities, setCurrentDetails, sleep, workflowInfo } from '@temporalio/workflow';
import type { ProviderStatusActivities } from '../activities/provider-status.activities';
import { incidentNote, type ProviderStatus } from '../contracts/provider-status';
import { integrationTaskQueue } from '../contracts/task-queues';

export interface WatchProviderStatusInput {
  integration: string;
  /** Gap between reads of the page (the declaration's `statusPage.pollEvery`). */
  pollEvery: Duration;
  /** Reads per run before continue-as-new. @default 200 */
  pollsPerRun?: number;
  /** Carried across continue-as-new: what the page said last. */
  last?: ProviderStatus;
}

/**
 * Reads one integration's status page every `pollEvery`, forever, and publishes what changed: to the
 * control workflow (breaker details, catalog, metrics, user-flow pre-open) and, when its incidents
 * change, to every workflow parked on the integration (their details say "provider reports an incident
 * since …"). A page that cannot be read changes nothing but a note: the incidents it last showed stay.
 * Started once per integration by each worker (`startProviderStatusWatchers`); ID `provider-status-<name>`.
 */
export async function watchProviderStatus(input: WatchProviderStatusInput): Promise<void> {
  const acts = proxyActivities<ProviderStatusActivities>({
    taskQueue: integrationTaskQueue(input.integration),
    startToCloseTimeout: '15 seconds',
    // A page that stays unreadable is waited out by the next poll, not by retries.
    retry: { maximumAttempts: 3, initialInterval: '2 seconds' },
    summary: 'status page',
  });
  let last = input.last;
  const pollsPerRun = input.pollsPerRun ?? 200;
  for (let polls = 0; polls < pollsPerRun && !workflowInfo().continueAsNewSuggested; polls++) {
    let status: ProviderStatus;
    try {
      status = await acts.readStatusPage({ integration: input.integration });
    } catch (err) {
      const cause = (err as Error).cause;
      const readError = cause instanceof Error ? cause.message : (err as Error).message;
      log.warn('status page unreadable; keeping what it said last', { integration: input.integration, readError });
      status = {
        ...(last ?? {
          indicator: 'unknown',
          description: '',
          incidents: [],
          checkedAt: new Date(Date.now()).toISOString(),
        }),
        readError: readError.slice(0, 300),
      };
    }
    const incidentsChanged = incidentKey(status) !== incidentKey(last);
    if (incidentsChanged || summaryKey(status) !== summaryKey(last)) {
      await acts.publishProviderStatus({ integration: input.integration, status, incidentsChanged });
    }
    last = status;
    setCurrentDetails(details(input, status));
    await sleep(input.pollEvery);
  }
  await continueAsNew<typeof watchProviderStatus>({ ...input, last });
}

function incidentKey(status: ProviderStatus | undefined): string {
  return (status?.incidents ?? []).map((i) => `${i.id}:${i.status}:${i.impact}`).join(',');
}

/** Everything but the read time: a page read again with the same answer is no news. */
function summaryKey(status: ProviderStatus | undefined): string {
  return status ? `${status.indicator}|${status.description}|${status.readError ?? ''}` : '';
}

function details(input: WatchProviderStatusInput, status: ProviderStatus): string {
  return [
    `**Status page of \`${input.integration}\`: ${incidentNote(status) ?? `no open incident (${status.description || status.indicator})`}**`,
    `Last read ${status.checkedAt}${status.readError ? `; the latest read failed: ${status.readError}` : ''}; read every ${String(input.pollEvery)}.`,
    'Informational: calls are judged by the breaker, except user-flow calls of an integration that declares `statusPage.preOpenBreaker`, held back during a major incident.',
  ].join('\n\n');
}
