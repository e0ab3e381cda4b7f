import { durationMs } from '../../integrations/kit/duration';
import {
  condition,
  log,
  metricMeter,
  patched,
  setCurrentDetails,
  setHandler,
  upsertMemo,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { parkedState, resolveParked, type OperatorDecision, type ParkedInfo } from '../../contracts/messages';
import { IntegrationName, NeedsAttention, ParkedAt, WorkflowStage } from '../../contracts/search-attributes';
import { incidentNote, providerStatusChanged } from '../../contracts/provider-status';

let parked: ParkedInfo | null = null;
let decision: OperatorDecision | undefined;
let handlersInstalled = false;

/** The decisions every park accepts; `compensate` only where there is something to undo. */
const allActions: OperatorDecision['action'][] = ['retry', 'retryWithBudget', 'skip', 'compensate', 'fail'];

/** The step the workflow is parked at now, if it is parked. */
export function parkedStep(): string | undefined {
  return parked?.step;
}

/** Registers `parkedState` and `resolveParked`; `runStep` calls it first, so they answer before any park. */
export function installOperatorHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  setHandler(parkedState, () => parked);
  // The provider's status page changed while this workflow waits (sent by `watchProviderStatus` to the
  // workflows parked on that integration): the details say so. No command: replay-safe everywhere.
  setHandler(providerStatusChanged, (status) => {
    if (!parked || !status || typeof status !== 'object' || !Array.isArray(status.incidents)) return;
    parked.providerStatus = incidentNote(status) ?? `provider reports no open incident (as of ${status.checkedAt})`;
    setCurrentDetails(parkedDetails(parked));
  });
  setHandler(
    resolveParked,
    (d) => {
      const step = parked!.step;
      decision = d;
      return { accepted: d.action, step };
    },
    { validator: validateDecision },
  );
}

/** Rejects a decision before it enters history, with a message that says what would be accepted. */
function validateDecision(d: OperatorDecision): void {
  if (!parked) throw new Error('nothing is parked: this workflow is not waiting for a decision');
  if (decision) throw new Error('a decision was already accepted and is being carried out');
  if (!d || typeof d !== 'object' || !parked.allowed.includes(d.action)) {
    throw new Error(`action must be one of ${parked.allowed.join(', ')}, e.g. {"action":"retry"}`);
  }
  if (d.action === 'retryWithBudget') {
    let ms = Number.NaN;
    try {
      ms = durationMs(d.budget as never);
    } catch {
      // reported below
    }
    if (!(ms > 0)) throw new Error('retryWithBudget needs a budget such as "30 minutes" or "2 hours"');
  }
  if (d.action === 'skip' && !('result' in d) && !parked.items)
    throw new Error('skip needs the result to continue with: {"action":"skip","result":{...}}');
  if (d.action === 'fail' && (typeof d.reason !== 'string' || d.reason.trim() === ''))
    throw new Error('fail needs a reason');
}

/**
 * Parks the workflow for an operator instead of failing it: records why (query `parkedState`, memo,
 * the UI's details panel), marks it `NeedsAttention` in search attributes so it can be listed, alerts,
 * and waits for a decision delivered as the Update `resolveParked`.
 */
export async function park(
  reason: Omit<ParkedInfo, 'since' | 'allowed'>,
  options: { canCompensate: boolean; allowed?: OperatorDecision['action'][] },
): Promise<OperatorDecision> {
  installOperatorHandlers();
  parked = {
    ...reason,
    since: new Date(Date.now()).toISOString(), // workflow time: deterministic on replay
    allowed: options.allowed ?? (options.canCompensate ? allActions : allActions.filter((a) => a !== 'compensate')),
  };
  decision = undefined;
  upsertSearchAttributes([
    { key: NeedsAttention, value: true },
    { key: IntegrationName, value: reason.integration },
    { key: WorkflowStage, value: 'parked' },
    // Since when, so the ones waiting too long can be listed and alerted on (IntegrationParkedTooLong).
    ...(patched('parked-at') ? [{ key: ParkedAt, value: new Date(Date.now()) }] : []),
  ]);
  upsertMemo({ parked });
  setCurrentDetails(parkedDetails(parked));
  log.error('workflow parked: needs an operator decision', { ...parked });
  metricMeter.createCounter('integration_parked', 'workflows', 'workflows parked for an operator').add(1, {
    integration: reason.integration,
    failure_type: reason.failureType,
  });

  await condition(() => decision !== undefined);
  const chosen = decision!;
  log.warn('operator decision accepted', { step: reason.step, action: chosen.action });
  upsertSearchAttributes([
    { key: NeedsAttention, value: false },
    { key: WorkflowStage, value: `resumed:${chosen.action}` },
  ]);
  upsertMemo({ parked: null, lastDecision: { step: reason.step, ...chosen } });
  setCurrentDetails('');
  parked = null;
  return chosen;
}

/** The details panel an operator sees in the UI: what failed, and the exact command to resolve it. */
function parkedDetails(info: ParkedInfo): string {
  const id = workflowInfo().workflowId;
  return [
    `**Parked: needs an operator decision** (since ${info.since})`,
    `Step \`${info.step}\` on \`${info.integration}.${info.endpoint}\` ended with \`${info.failureType}\` after ${info.attempts} attempt(s).`,
    `Last error: ${info.lastError}`,
    ...(info.items
      ? [
          `Items in question: ${info.items.count} (keys: ${info.items.keys.slice(0, 20).join(', ')}${info.items.count > 20 ? ', …: query `parkedState` (first 100) or `bulkBatchStatus` (all)' : ''})`,
        ]
      : []),
    ...(info.providerStatus ? [`Status page: ${info.providerStatus}`] : []),
    `Allowed: ${info.allowed.join(', ')}. Resolve with:`,
    // One option a line: the UI's panel does not wrap long lines.
    [
      '```',
      'temporal workflow update execute \\',
      `  --workflow-id ${id} \\`,
      '  --name resolveParked \\',
      `  --input '{"action":"retry"}'`,
      '```',
    ].join('\n'),
    info.items
      ? 'Other decisions: `skip` (accept these items as they are, e.g. checked at the provider), `fail` (with a `reason`).'
      : 'Other decisions: `retryWithBudget` (with a `budget`), `skip` (with a `result`), `compensate`, `fail` (with a `reason`).',
  ].join('\n\n');
}
