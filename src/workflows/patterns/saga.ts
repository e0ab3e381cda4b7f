import { log, upsertMemo } from '@temporalio/workflow';
import type { StepResult } from './steps';

interface Compensation {
  /** The step it undoes, e.g. `charge`. */
  step: string;
  /** A durable step of its own (runStep with its own idempotency key), so retries and resets undo once. */
  undo: () => Promise<StepResult<unknown>>;
}

/**
 * Compensation (saga): each step that succeeded registers how to undo it; on a failure the undos run
 * in reverse order. Only steps known to have happened are registered: a step whose outcome was unknown
 * was reconciled by `runStep` before it could register. An undo that cannot complete parks for an
 * operator (inside its own `runStep`), it is never skipped silently.
 */
export class Saga {
  private readonly compensations: Compensation[] = [];
  private readonly compensated: string[] = [];

  /** Registers the undo of a step that has just succeeded. */
  add(step: string, undo: () => Promise<StepResult<unknown>>): void {
    this.compensations.push({ step, undo });
  }

  /** Runs every registered undo, newest first; returns the steps undone, in the order they were undone. */
  async compensate(reason: string): Promise<string[]> {
    log.warn('compensating', { reason, steps: this.compensations.map((c) => c.step).reverse() });
    while (this.compensations.length > 0) {
      const last = this.compensations.pop()!;
      await last.undo();
      this.compensated.push(last.step);
      upsertMemo({ compensated: [...this.compensated] });
    }
    return [...this.compensated];
  }
}
