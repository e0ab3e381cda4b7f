import type { Duration } from '@temporalio/common';
import { isCancellation, log, upsertMemo } from '@temporalio/workflow';
import { park } from './park';
import { failureSummary, gaveUpOf, type StepOptions } from './steps';

interface Compensation {
  /** The step it undoes, e.g. `charge`. */
  step: string;
  /** A durable step of its own (runStep with its own key and `onGiveUp: 'throw'`), so retries and resets undo once. */
  undo: (options?: StepOptions) => Promise<unknown>;
}

/** What a compensation did: every step it undid, and every step it could not undo. */
export interface CompensationReport {
  /** Undone, in the order they were undone; `(by an operator)` when an operator said it was done by hand. */
  compensated: string[];
  /** Not undone: an operator decided to leave them (decision `fail`). Empty when everything was undone. */
  notCompensated: string[];
}

/**
 * Compensation (saga): each step that succeeded registers how to undo it; on a failure (or a
 * cancellation) the undos run newest first. Every undo is tried: one that fails does not stop the ones
 * after it. What could not be undone then parks, all together, until an operator retries it, says it was
 * done by hand (`skip`) or gives up on it (`fail`); the report says which. Run it outside any cancelled
 * scope (`CancellationScope.nonCancellable`): a cancelled order must still be compensated.
 */
export class Saga {
  private readonly compensations: Compensation[] = [];
  private readonly compensated: string[] = [];

  /** How many undos are registered: something to compensate when > 0. */
  get size(): number {
    return this.compensations.length;
  }

  /** Registers the undo of a step that has just succeeded. */
  add(step: string, undo: (options?: StepOptions) => Promise<unknown>): void {
    this.compensations.push({ step, undo });
  }

  async compensate(reason: string): Promise<CompensationReport> {
    log.warn('compensating', { reason, steps: this.compensations.map((c) => c.step).reverse() });
    let failed: { compensation: Compensation; error: unknown }[] = [];
    const attempt = async (compensation: Compensation, options?: StepOptions) => {
      try {
        await compensation.undo(options);
        this.compensated.push(compensation.step);
        upsertMemo({ compensated: [...this.compensated] });
      } catch (error) {
        if (isCancellation(error)) throw error;
        log.error('undo failed; the other undos still run', { step: compensation.step, error: failureSummary(error) });
        failed.push({ compensation, error });
      }
    };
    while (this.compensations.length > 0) await attempt(this.compensations.pop()!);

    const notCompensated: string[] = [];
    while (failed.length > 0) {
      const steps = failed.map((f) => f.compensation.step);
      const first = gaveUpOf(failed[0]!.error);
      upsertMemo({ compensated: [...this.compensated], notCompensated: steps });
      const decision = await park(
        {
          integration: first?.integration ?? 'workflow',
          endpoint: first?.endpoint ?? 'compensation',
          step: `undo ${steps.join(', ')}`,
          failureType: first?.failureType ?? failureSummary(failed[0]!.error).split(':')[0]!,
          attempts: first?.attempts ?? 1,
          lastError: failed.map((f) => `${f.compensation.step}: ${failureSummary(f.error)}`).join('; '),
        },
        { canCompensate: false, allowed: ['retry', 'retryWithBudget', 'skip', 'fail'] },
      );
      const retrying = failed;
      failed = [];
      if (decision.action === 'retry' || decision.action === 'retryWithBudget') {
        const options = decision.action === 'retryWithBudget' ? { budget: decision.budget as Duration } : undefined;
        for (const { compensation } of retrying) await attempt(compensation, options);
      } else if (decision.action === 'skip') {
        for (const step of steps) this.compensated.push(`${step} (by an operator)`);
      } else {
        notCompensated.push(...steps);
      }
    }
    if (notCompensated.length > 0 || this.compensated.some((s) => s.endsWith('(by an operator)'))) {
      upsertMemo({ compensated: [...this.compensated], notCompensated });
    }
    return { compensated: [...this.compensated], notCompensated };
  }
}
