import { ActivityFailure, ApplicationFailure, TimeoutFailure } from '@temporalio/workflow';
import type { ParkedInfo } from '../../contracts/messages';
import { temporalTimeout, type CallFailureDetails } from '../../integrations/kit/failures';

/**
 * What a step's failure means to its recovery: which failure, how many attempts it took, whether a budget
 * ran out. Workflow code (deterministic): it reads failures, it does not call anything.
 */

/** The failure type `runStep` throws with `onGiveUp: 'throw'`; its details are a {@link GaveUp}. */
export const STEP_GAVE_UP = 'StepGaveUp';

/** Why a step could not complete: what a park shows an operator, before it is parked. */
export type GaveUp = Omit<ParkedInfo, 'since' | 'allowed'>;

/** A failure, as the recovery logic needs to see it. */
export interface Described {
  /** The failure type, or `Timeout:<kind>` when Temporal gave up waiting. */
  type: string;
  message: string;
  /** The activity attempt that ended it (1 when the activity never said). */
  attempts: number;
  /** The activity's retry policy or budget ran out (as opposed to a non-retryable answer). */
  exhausted: boolean;
}

/** The failure of a step an operator chose to fail. */
export function operatorFailed(reason: string): ApplicationFailure {
  return ApplicationFailure.create({ type: 'OperatorFailed', message: reason, nonRetryable: true });
}

/** `Type: message` of a step's failure, naming the provider's answer rather than "Activity task failed". */
export function failureSummary(err: unknown): string {
  const failure = describe(err);
  return `${failure.type}: ${failure.message}`;
}

/** What a `StepGaveUp` failure says about the step, or undefined for any other failure. */
export function gaveUpOf(err: unknown): GaveUp | undefined {
  return err instanceof ApplicationFailure && err.type === STEP_GAVE_UP ? (err.details?.[0] as GaveUp) : undefined;
}

/** A step's failure as the recovery logic needs it: the provider's answer, or the Temporal timeout. */
export function describe(err: unknown): Described {
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
  let exhausted = err.retryState === 'MAXIMUM_ATTEMPTS_REACHED' || err.retryState === 'TIMEOUT';
  let cause: unknown = err.cause;
  let type = 'ActivityFailure';
  let message = err.message;
  if (cause instanceof TimeoutFailure) {
    // Temporal gave up waiting: an attempt may still have been in flight. The timeout decides what it
    // means; the last attempt's own failure (when there is one) says more to an operator. It is never a
    // definite answer: the budget ran out (whatever retry state the server reports after a restart).
    exhausted = true;
    type = temporalTimeout(cause.timeoutType);
    const last = cause.cause;
    message = last instanceof ApplicationFailure ? `${last.type ?? 'failure'}: ${last.message}` : cause.message;
    cause = last;
  } else if (cause instanceof ApplicationFailure) {
    type = cause.type ?? type;
    message = cause.message;
  } else if (cause instanceof Error) {
    message = cause.message;
  }
  const details =
    cause instanceof ApplicationFailure ? (cause.details?.[0] as CallFailureDetails | undefined) : undefined;
  return { type, message, attempts: details?.attempt ?? 1, exhausted };
}
