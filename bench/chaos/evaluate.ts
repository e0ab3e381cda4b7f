import { WorkflowNotFoundError, type WorkflowHandle } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import type { LedgerEntry } from '../../src/sandbox/types';
import { NeedsAttention } from '../../src/contracts/search-attributes';
import type { ChaosStack } from './stack';
import type { CaseCounts, Effect, Final, OrderEvaluation, StartAnswer, TrackedOrder } from './types';
import { within } from './wait';

export const effects: readonly Effect[] = [
  'payment.created',
  'refund.created',
  'document.generated',
  'email.sent',
  'customer.updated',
];

/** What Temporal says about one order's workflow (its latest run). */
export interface Inspection {
  exists: boolean;
  /** COMPLETED, RUNNING, FAILED, CANCELLED, TERMINATED, TIMED_OUT, ... */
  status: string;
  parked: boolean;
  /** A workflow task is pending: whatever it shows now may change at once. */
  busy?: boolean;
  stage?: string;
  parkedOn?: string;
  /** Why it did not complete: `OrderStatus.failure`, or the workflow's failure. */
  failure?: string;
  historyLength?: number;
}

/** Describes the order's workflow: status and NeedsAttention; with `details`, its result and why it is parked. */
export async function inspect(stack: ChaosStack, order: TrackedOrder, details = false): Promise<Inspection> {
  const handle = stack.client.temporal.workflow.getHandle(order.workflowId);
  let description;
  try {
    description = await handle.describe();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return { exists: false, status: 'NOT_FOUND', parked: false };
    throw err;
  }
  const status = description.status.name;
  const parked = status === 'RUNNING' && description.typedSearchAttributes.get(NeedsAttention) === true;
  // A workflow task pending: the workflow is about to act (e.g. on a cancellation just requested).
  const busy = description.raw.pendingWorkflowTask != null;
  const inspection: Inspection = { exists: true, status, parked, busy, historyLength: description.historyLength };
  if (!details) return inspection;
  if (status !== 'RUNNING') {
    const result: unknown = await handle.result().catch((err: unknown) => {
      const e = err as Error & { cause?: Error };
      inspection.failure = `${e.message}${e.cause?.message ? `: ${e.cause.message}` : ''}`.slice(0, 300);
      return undefined;
    });
    if (result && typeof result === 'object') {
      const r = result as { stage?: unknown; failure?: unknown };
      if (typeof r.stage === 'string') inspection.stage = r.stage;
      if (r.failure !== undefined) {
        inspection.failure = (typeof r.failure === 'string' ? r.failure : JSON.stringify(r.failure)).slice(0, 300);
      }
    }
  }
  if (parked) {
    const info = await within(
      handle.query<{ step?: string; failureType?: string } | null>('parkedState').catch(() => null),
      10_000,
      null,
    );
    if (info) inspection.parkedOn = `${info.step ?? '?'} (${info.failureType ?? '?'})`;
  }
  return inspection;
}

/**
 * Closed, or open and parked with no workflow task pending: nothing more will happen without an operator.
 * (Parked with a task pending is a workflow about to act, e.g. on the cancellation just requested.)
 */
export function isSettled(order: TrackedOrder, inspection: Inspection): boolean {
  if (!inspection.exists) return order.pendingStarts === 0;
  return inspection.status !== 'RUNNING' || (inspection.parked && !inspection.busy);
}

/** Ledger entries of one order: a tracked effect with a key `order-<orderId>:<step>`. */
export function entriesOf(ledger: LedgerEntry[], order: TrackedOrder): (LedgerEntry & { effect: Effect })[] {
  const prefix = `${order.workflowId}:`;
  // Other providers' effects (e.g. inventory's stock.reserved) are not an order's.
  const tracked = (e: LedgerEntry): e is LedgerEntry & { effect: Effect } =>
    (effects as readonly string[]).includes(e.effect);
  return ledger.filter(tracked).filter((e) => e.idempotencyKey?.startsWith(prefix) === true);
}

async function runsOf(stack: ChaosStack, order: TrackedOrder): Promise<number> {
  let runs = 0;
  try {
    for await (const _ of stack.client.temporal.workflow.list({ query: `WorkflowId = '${order.workflowId}'` })) runs++;
  } catch {
    return -1;
  }
  return runs;
}

function describeAnswer(a: StartAnswer): string {
  if (!a.ok) return `error after ${a.attempts} attempt(s): ${a.error}`;
  const c = a.charge;
  const tries =
    (a.attempts > 1 ? ` (start attempt ${a.attempts})` : '') + (a.answeredBy ? ` [answered by ${a.answeredBy}]` : '');
  if (c.charged) return `charged ${c.paymentId ?? '?'}${tries}`;
  return `${c.pending ? 'pending, parked' : 'not charged'} (${c.failure ?? 'no reason'})${tries}`;
}

/** Applies the promise's rules to one order: its ending from Temporal, its effects from the ledger. */
export async function evaluate(
  stack: ChaosStack,
  order: TrackedOrder,
  ledger: LedgerEntry[],
): Promise<OrderEvaluation> {
  const inspection = await inspect(stack, order, true).catch((err: unknown): Inspection => ({
    exists: true,
    status: `UNREADABLE: ${(err as Error).message}`,
    parked: false,
  }));
  const mine = entriesOf(ledger, order);
  const counts: Partial<Record<Effect, number>> = {};
  const byKey = new Map<string, number>();
  for (const e of mine) {
    counts[e.effect] = (counts[e.effect] ?? 0) + 1;
    byKey.set(e.idempotencyKey!, (byKey.get(e.idempotencyKey!) ?? 0) + 1);
  }
  const duplicateKeys = [...byKey].filter(([, n]) => n > 1).map(([k, n]) => `${k} x${n}`);
  const payments = counts['payment.created'] ?? 0;
  const refunds = counts['refund.created'] ?? 0;
  const chargeKept = payments > refunds;

  let final: Final;
  if (!inspection.exists) final = 'not-started';
  else if (inspection.status === 'RUNNING') final = inspection.parked ? 'parked' : 'stranded';
  else if (inspection.status === 'COMPLETED' && inspection.stage === 'completed') final = 'completed';
  else if (inspection.status === 'COMPLETED' && inspection.stage === 'compensated') final = 'compensated';
  else final = chargeKept ? 'failed-charged' : 'failed-uncharged';

  const answered = order.answers.filter((a): a is Extract<StartAnswer, { ok: true }> => a.ok);
  // `pending`: the charge's outcome is not known yet (parked); that is not a claim either way.
  const saidNotCharged = answered.some((a) => !a.charge.charged && !a.charge.pending);
  const saidCharged = answered.some((a) => a.charge.charged);
  const evaluation: OrderEvaluation = {
    orderId: order.orderId,
    workflowId: order.workflowId,
    label: order.label,
    final,
    status: inspection.status,
    ...(inspection.stage !== undefined ? { stage: inspection.stage } : {}),
    ...(inspection.parkedOn !== undefined ? { parkedOn: inspection.parkedOn } : {}),
    ...(inspection.failure !== undefined ? { failure: inspection.failure } : {}),
    effects: counts,
    duplicateKeys,
    chargeKept,
    lost: payments > 0 && chargeKept && final !== 'completed' && final !== 'parked',
    duplicated: duplicateKeys.length > 0 || payments > 1 || refunds > 1,
    // "Not charged" while a charge is kept, or "charged" with no charge at the provider.
    misreported: (saidNotCharged && chargeKept) || (saidCharged && payments === 0),
    stranded: final === 'stranded',
    ...(inspection.historyLength !== undefined ? { historyLength: inspection.historyLength } : {}),
    runs: inspection.exists ? await runsOf(stack, order) : 0,
    answers: [...order.answers.map(describeAnswer), ...(order.pendingStarts > 0 ? ['(no answer yet)'] : [])],
    answeredPayments: answered.flatMap((a) => (a.charge.charged ? [a.charge.paymentId ?? '?'] : [])),
  };
  const problems: string[] = [];
  if (order.expect && !order.expect.includes(final))
    problems.push(`ended ${final}, expected ${order.expect.join(' | ')}`);
  if (!inspection.exists && mine.length > 0) problems.push(`${mine.length} effect(s) with no workflow`);
  const extra = order.check?.(evaluation);
  if (extra) problems.push(extra);
  if (problems.length > 0) evaluation.unexpected = problems.join('; ');
  return evaluation;
}

export function emptyCounts(): CaseCounts {
  return {
    orders: 0,
    completed: 0,
    compensated: 0,
    failedUncharged: 0,
    failedCharged: 0,
    parked: 0,
    notStarted: 0,
    lost: 0,
    duplicated: 0,
    stranded: 0,
    misreported: 0,
    unexpected: 0,
    maxHistory: 0,
  };
}

export function countOf(evaluations: OrderEvaluation[]): CaseCounts {
  const c = emptyCounts();
  for (const e of evaluations) {
    c.orders++;
    if (e.final === 'completed') c.completed++;
    if (e.final === 'compensated') c.compensated++;
    if (e.final === 'failed-uncharged') c.failedUncharged++;
    if (e.final === 'failed-charged') c.failedCharged++;
    if (e.final === 'parked') c.parked++;
    if (e.final === 'not-started') c.notStarted++;
    if (e.lost) c.lost++;
    if (e.duplicated) c.duplicated++;
    if (e.stranded) c.stranded++;
    if (e.misreported) c.misreported++;
    if (e.unexpected) c.unexpected++;
    c.maxHistory = Math.max(c.maxHistory, e.historyLength ?? 0);
  }
  return c;
}

export function addCounts(a: CaseCounts, b: CaseCounts): CaseCounts {
  const sum = emptyCounts();
  for (const key of Object.keys(sum) as (keyof CaseCounts)[]) {
    sum[key] = key === 'maxHistory' ? Math.max(a[key], b[key]) : a[key] + b[key];
  }
  return sum;
}

const eventTypeName = (t: temporal.api.enums.v1.EventType | null | undefined): string =>
  (temporal.api.enums.v1.EventType[t ?? 0] ?? String(t)).replace(/^EVENT_TYPE_/, '');

function failureText(f: temporal.api.failure.v1.IFailure | null | undefined): string {
  const parts: string[] = [];
  for (let cur = f; cur; cur = cur.cause) {
    const type = cur.applicationFailureInfo?.type;
    parts.push(`${type ? `${type}: ` : ''}${cur.message ?? ''}`);
  }
  return parts.join(' <- ').slice(0, 300);
}

/**
 * A compact listing of a workflow's history (latest run), for the report's evidence: one line per event
 * with the activity type, the timer/summary text and failure messages; long runs of events are elided.
 */
export async function historyDigest(handle: WorkflowHandle, maxLines = 160): Promise<string[]> {
  const history = await handle.fetchHistory();
  const events = history.events ?? [];
  const activityTypes = new Map<string, string>();
  const lines: string[] = [];
  for (const e of events) {
    const id = String(e.eventId);
    const name = eventTypeName(e.eventType);
    let detail = '';
    if (e.activityTaskScheduledEventAttributes) {
      const type = e.activityTaskScheduledEventAttributes.activityType?.name ?? '?';
      activityTypes.set(id, type);
      detail = type;
    } else if (e.activityTaskFailedEventAttributes) {
      const a = e.activityTaskFailedEventAttributes;
      detail = `${activityTypes.get(String(a.scheduledEventId)) ?? '?'} ${failureText(a.failure)}`;
    } else if (e.activityTaskTimedOutEventAttributes) {
      const a = e.activityTaskTimedOutEventAttributes;
      detail = `${activityTypes.get(String(a.scheduledEventId)) ?? '?'} ${failureText(a.failure)}`;
    } else if (e.activityTaskCompletedEventAttributes) {
      detail = activityTypes.get(String(e.activityTaskCompletedEventAttributes.scheduledEventId)) ?? '?';
    } else if (e.activityTaskStartedEventAttributes) {
      detail = `attempt ${e.activityTaskStartedEventAttributes.attempt ?? '?'}`;
    } else if (e.workflowExecutionFailedEventAttributes) {
      detail = failureText(e.workflowExecutionFailedEventAttributes.failure);
    } else if (e.workflowTaskFailedEventAttributes) {
      detail = failureText(e.workflowTaskFailedEventAttributes.failure);
    } else if (e.timerStartedEventAttributes) {
      detail = `timer ${String(e.timerStartedEventAttributes.startToFireTimeout?.seconds ?? '?')} s`;
    } else if (e.workflowExecutionUpdateAcceptedEventAttributes) {
      detail = e.workflowExecutionUpdateAcceptedEventAttributes.acceptedRequest?.input?.name ?? '';
    } else if (e.upsertWorkflowSearchAttributesEventAttributes) {
      const fields = e.upsertWorkflowSearchAttributesEventAttributes.searchAttributes?.indexedFields ?? {};
      detail = Object.entries(fields)
        .map(([k, v]) => `${k}=${v.data ? Buffer.from(v.data).toString('utf8') : ''}`)
        .join(' ');
    } else if (e.workflowExecutionCancelRequestedEventAttributes) {
      detail = e.workflowExecutionCancelRequestedEventAttributes.cause ?? '';
    }
    lines.push(`${id.padStart(5)} ${name}${detail ? `  ${detail}` : ''}`);
  }
  if (lines.length <= maxLines) return lines;
  const head = lines.slice(0, maxLines / 2);
  const tail = lines.slice(-maxLines / 2);
  return [...head, `  ... ${lines.length - maxLines} events elided ...`, ...tail];
}
