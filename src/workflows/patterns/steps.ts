import type { Duration } from '@temporalio/common';
import { msToNumber } from '@temporalio/common/lib/time';
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  isCancellation,
  log,
  metricMeter,
  sleep,
  TimeoutFailure,
  upsertMemo,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import { FailureType, type CallFailureDetails } from '../../integrations/kit/failures';
import type { CallOptions } from '../integration-proxy';
import { WorkflowStage } from '../search-attributes';
import { installOperatorHandlers, park } from './park';

/** How a step reached its result; recorded in the memo `steps` and readable in the UI. */
export type StepPath =
  'ok' | 'resent-with-key' | 'found-by-lookup' | 'resent-after-lookup' | 'operator-retry' | 'operator-skip';

export interface StepResult<T> {
  value: T;
  paths: StepPath[];
}

export interface StepSpec<T> {
  /** The step's name; with the workflow ID it makes the idempotency key (`stepKey(step)`). */
  step: string;
  integration: string;
  endpoint: string;
  /** The call's clock-time budget (its schedule-to-close): an alert fires at 80 % of it. */
  budget: Duration;
  /** Makes the call. `options` carry a UI summary and, after an operator's decision, a new budget. */
  call: (options: CallOptions) => Promise<T>;
  /** For writes: how to settle an unknown outcome before anything else happens. */
  reconcile?: {
    /** Finds the write's effect by its correlation ID; null when it did not happen. */
    lookup?: (options: CallOptions) => Promise<T | null>;
    /** The provider deduplicates by key for this long: a resend inside it cannot apply twice. */
    keyRetention?: Duration;
    /** How long to keep trying the lookup while it fails. @default 10 minutes */
    lookupBudget?: Duration;
    /** Durable timer between failed lookups. @default 10 seconds */
    lookupInterval?: Duration;
  };
  /** Whether an operator may choose `compensate` when this step parks. */
  canCompensate: boolean;
}

/** A failure, as the recovery logic and an operator need to see it. */
interface Described {
  type: string;
  message: string;
  attempts: number;
  /** The activity's retry policy or budget ran out (as opposed to a non-retryable answer). */
  exhausted: boolean;
}

/** Non-retryable answers an operator can fix (credentials, configuration) rather than business rejections. */
const operatorFixable = new Set<string>([
  FailureType.Unauthorized,
  FailureType.Misconfigured,
  FailureType.AuthUnavailable,
]);
/** On a write these mean "it may have been applied": timeouts, OutcomeUnknown, or a 2xx we could not read. */
const unknownOnWrite = new Set<string>([
  FailureType.OutcomeUnknown,
  FailureType.InvalidResponse,
  FailureType.ResponseTooLarge,
  'Timeout:TIMEOUT_TYPE_START_TO_CLOSE',
  'Timeout:TIMEOUT_TYPE_SCHEDULE_TO_CLOSE',
  'Timeout:TIMEOUT_TYPE_HEARTBEAT',
]);

/**
 * Runs one integration call as a durable step:
 * - a result: returned, with the path taken;
 * - a write whose outcome is unknown: reconciled first (look up by correlation ID; found -> that is the
 *   result; not found -> resend with the same key while inside the provider's key retention; lookup
 *   down -> durable timer, look up again);
 * - a budget that ran out, or credentials/configuration an operator must fix: parked for a decision,
 *   never a silent failure and never a blind resend;
 * - a business rejection (4xx, invalid response on a read): thrown, for the caller to compensate.
 */
export async function runStep<T>(spec: StepSpec<T>): Promise<StepResult<T>> {
  installOperatorHandlers();
  const paths: StepPath[] = [];
  const firstAttemptAt = Date.now();
  let options: CallOptions = {};
  for (;;) {
    let failure: unknown;
    try {
      const value = await withBudgetAlert(spec, options.scheduleToClose ?? spec.budget, () => spec.call(options));
      return done(spec.step, paths.length === 0 ? ['ok'] : paths, value);
    } catch (err) {
      if (isCancellation(err)) throw err;
      failure = err;
    }
    const f = describe(failure);
    const unknown = spec.reconcile !== undefined && unknownOnWrite.has(f.type);
    if (!unknown && !f.exhausted && !operatorFixable.has(f.type)) throw failure; // a definite answer: the caller decides

    if (unknown && spec.reconcile) {
      stage(`reconciling:${spec.step}`);
      log.warn('outcome unknown: reconciling before anything else', { step: spec.step, failureType: f.type });
      const insideRetention =
        spec.reconcile.keyRetention !== undefined &&
        Date.now() - firstAttemptAt < msToNumber(spec.reconcile.keyRetention) * 0.9;
      if (spec.reconcile.lookup) {
        const found = await lookUp(spec, spec.reconcile.lookup);
        if (found.kind === 'found') return done(spec.step, [...paths, 'found-by-lookup'], found.value);
        if (found.kind === 'not-found' && insideRetention) {
          paths.push('resent-after-lookup');
          options = { summary: `${spec.step}: resend with the same key (lookup found nothing)` };
          continue;
        }
      } else if (insideRetention && !f.exhausted) {
        paths.push('resent-with-key');
        options = { summary: `${spec.step}: resend with the same key` };
        continue;
      }
    }

    const decision = await park(
      {
        integration: spec.integration,
        endpoint: spec.endpoint,
        step: spec.step,
        failureType: f.type,
        attempts: f.attempts,
        lastError: f.message,
      },
      { canCompensate: spec.canCompensate },
    );
    switch (decision.action) {
      case 'retry':
        paths.push('operator-retry');
        options = { summary: `${spec.step}: retried by an operator` };
        break;
      case 'retryWithBudget':
        paths.push('operator-retry');
        options = {
          summary: `${spec.step}: retried by an operator (budget ${decision.budget})`,
          scheduleToClose: decision.budget as Duration,
        };
        break;
      case 'skip':
        return done(spec.step, [...paths, 'operator-skip'], decision.result as T);
      case 'compensate':
        throw ApplicationFailure.create({
          type: 'CompensationRequested',
          message: `operator chose to compensate at step ${spec.step}`,
          nonRetryable: true,
        });
      case 'fail':
        throw ApplicationFailure.create({ type: 'OperatorFailed', message: decision.reason, nonRetryable: true });
    }
  }
}

type Lookup<T> = { kind: 'found'; value: T } | { kind: 'not-found' } | { kind: 'unavailable' };

/** Looks the write's effect up; while the lookup itself fails, waits on a durable timer and tries again. */
async function lookUp<T>(spec: StepSpec<T>, lookup: (o: CallOptions) => Promise<T | null>): Promise<Lookup<T>> {
  const deadline = Date.now() + msToNumber(spec.reconcile?.lookupBudget ?? '10 minutes');
  for (let i = 1; ; i++) {
    try {
      const value = await lookup({ summary: `${spec.step}: reconcile, look up by correlation id (${i})` });
      return value === null ? { kind: 'not-found' } : { kind: 'found', value };
    } catch (err) {
      if (isCancellation(err)) throw err;
      log.warn('lookup failed; trying again after a timer', { step: spec.step, error: (err as Error).message });
      if (Date.now() >= deadline) return { kind: 'unavailable' };
      await sleep(spec.reconcile?.lookupInterval ?? '10 seconds', {
        summary: `${spec.step}: wait before the next lookup`,
      });
    }
  }
}

/** Runs `call`; if it is still running at 80 % of its budget, logs an alert and counts it. */
async function withBudgetAlert<T>(spec: StepSpec<T>, budget: Duration, call: () => Promise<T>): Promise<T> {
  const scope = new CancellationScope();
  const alert = scope
    .run(async () => {
      await sleep(Math.round(msToNumber(budget) * 0.8), { summary: `${spec.step}: alert at 80 % of the budget` });
      log.warn('integration call at 80 % of its budget: fix it while retries remain', {
        step: spec.step,
        integration: spec.integration,
        endpoint: spec.endpoint,
        budget: String(budget),
      });
      metricMeter
        .createCounter('integration_budget_alert', 'calls', 'calls past 80 % of their clock-time budget')
        .add(1, { integration: spec.integration, endpoint: spec.endpoint });
    })
    .catch((err: unknown) => {
      if (!isCancellation(err)) throw err;
    });
  try {
    return await call();
  } finally {
    scope.cancel();
    await alert;
  }
}

function done<T>(step: string, paths: StepPath[], value: T): StepResult<T> {
  recorded[step] = paths;
  upsertMemo({ steps: { ...recorded } });
  stage(`done:${step}`);
  return { value, paths };
}

const recorded: Record<string, StepPath[]> = {};

function stage(value: string): void {
  upsertSearchAttributes([{ key: WorkflowStage, value }]);
}

/** `Type: message` of a step's failure, naming the provider's answer rather than "Activity task failed". */
export function failureSummary(err: unknown): string {
  const f = describe(err);
  return `${f.type}: ${f.message}`;
}

function describe(err: unknown): Described {
  if (err instanceof ApplicationFailure && !(err instanceof ActivityFailure)) {
    return { type: err.type ?? 'ApplicationFailure', message: err.message, attempts: 1, exhausted: false };
  }
  if (!(err instanceof ActivityFailure)) {
    return {
      type: (err as Error).name ?? 'Error',
      message: (err as Error).message ?? String(err),
      attempts: 1,
      exhausted: false,
    };
  }
  const exhausted = err.retryState === 'MAXIMUM_ATTEMPTS_REACHED' || err.retryState === 'TIMEOUT';
  let cause: unknown = err.cause;
  let type = 'ActivityFailure';
  if (cause instanceof TimeoutFailure) {
    type = `Timeout:${cause.timeoutType}`;
    // A budget that ran out carries the last attempt's own failure: name that, it says more.
    if (cause.cause instanceof ApplicationFailure && cause.cause.type) type = cause.cause.type;
    cause = cause.cause ?? cause;
  } else if (cause instanceof ApplicationFailure && cause.type) {
    type = cause.type;
  }
  const details =
    cause instanceof ApplicationFailure ? (cause.details?.[0] as CallFailureDetails | undefined) : undefined;
  return {
    type,
    message: (cause as Error | undefined)?.message ?? err.message,
    attempts: details?.attempt ?? 1,
    exhausted,
  };
}
