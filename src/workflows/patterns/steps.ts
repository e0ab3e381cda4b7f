import type { Duration } from '@temporalio/common';
import {
  ApplicationFailure,
  CancellationScope,
  condition,
  isCancellation,
  log,
  patched,
  sleep,
  upsertMemo,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import { semanticsOf } from '../../integrations/kit/failures';
import type { CallOptions, DeclaredEndpoint, EndpointCall } from '../integration-proxy';
import { stepKey } from '../keys';
import type { OperatorDecision } from '../../contracts/messages';
import { WorkflowStage } from '../../contracts/search-attributes';
import { durationMs } from '../../integrations/kit/duration';
import { withBudgetAlert } from './budget-alert';
import { recordStepDuration, type StepOutcome } from './step-duration';
import { installOperatorHandlers, park } from './park';
import { describe, operatorFailed, STEP_GAVE_UP, type Described, type GaveUp } from './step-failures';
import type { StepOptions, StepPath, StepResult } from './step-options';

export { failureSummary, gaveUpOf, STEP_GAVE_UP, type GaveUp } from './step-failures';
export type { StepOptions, StepPath, StepResult } from './step-options';

type Settled<T> =
  { kind: 'found'; value: T } | { kind: 'resend'; summary: string } | { kind: 'not-applied' } | { kind: 'stuck' };

/**
 * Runs one endpoint call as a durable step. Everything about the endpoint (integration, budget, whether
 * it is a write, its key, its lookup, the provider's key retention) comes from its declaration:
 *
 *     const payment = await runStep('charge', pay.createPayment, { body });
 *
 * - a result: returned, with the path taken;
 * - a write whose outcome is unknown stays unknown until settled, whatever came after it (an open
 *   breaker, a kill switch, the rate limiter, a Temporal timeout, a crash, a cancellation): look up by
 *   key (found: that is the result), or resend with the same key inside the provider's retention, each
 *   resend after a growing durable timer and at most `resends.max` times; then park;
 * - a budget that ran out, or credentials or configuration an operator must fix: parked for a decision,
 *   never a silent failure and never a blind resend;
 * - a definite answer (a 4xx, an invalid response on a read): thrown, for the caller to compensate.
 * Cancelled while a write's outcome is unknown, it settles that outcome first (not cancellable): the
 * write found applied is returned, so the caller registers its undo before the cancellation surfaces.
 */
export async function runStep<I extends object, O>(
  step: string,
  call: EndpointCall<I, O>,
  input: I,
  options: StepOptions = {},
): Promise<StepResult<O>> {
  installOperatorHandlers();
  const run = new StepRun(step, call, input, options);
  try {
    return await run.run();
  } catch (err) {
    if (!isCancellation(err) || !run.mayHaveApplied) {
      run.settled(isCancellation(err) ? 'cancelled' : 'failed');
      throw err;
    }
    const settled = await CancellationScope.nonCancellable(() => run.settleAfterCancel());
    if (settled) return settled;
    run.settled('cancelled');
    throw err;
  }
}

class StepRun<I extends object, O> {
  private readonly declared: DeclaredEndpoint<O>;
  private readonly key: string | undefined;
  private readonly startedAt = Date.now();
  private readonly paths: StepPath[] = [];
  private resends = 0;
  /** Attempts of every send of this step so far (a resend starts its own count at 1). */
  private attempts = 0;
  /** A write was sent and nothing since proved it was not applied. */
  mayHaveApplied = false;
  /** The step's duration was recorded (once: at its first result, failure, park or cancellation). */
  private measured = false;
  /** The other sender says when its send ended (`sentElsewhereOver`): its first send waits for that. */
  private awaitsOtherSend = false;

  constructor(
    private readonly step: string,
    private readonly call: EndpointCall<I, O>,
    private readonly input: I,
    private readonly options: StepOptions,
  ) {
    this.declared = call.declared;
    this.key = this.declared.write ? (options.key ?? stepKey(step)) : undefined;
    if (this.declared.write && options.sentElsewhereUntil !== undefined) this.mayHaveApplied = true;
  }

  async run(): Promise<StepResult<O>> {
    let callOptions: CallOptions = {};
    // Executions recorded before this wait existed sent at once, alongside the other send, as they did.
    if (
      this.declared.write &&
      this.options.sentElsewhereUntil !== undefined &&
      this.options.sentElsewhereOver &&
      patched('step-awaits-other-send')
    ) {
      this.awaitsOtherSend = true;
      // Not while the other send is in flight: no activity, no provider request, no CPU on the path it is on.
      await this.otherSendEnded();
      // The other send succeeded and said with what: the provider applied this very request once; its answer
      // is this step's (what its own send would get replayed).
      const answer = this.options.sentElsewhereAnswer?.();
      if (answer !== undefined) return this.done(answer as O, ['answered-elsewhere']);
    }
    for (;;) {
      let failure: unknown;
      try {
        const budget = callOptions.scheduleToClose ?? this.options.budget ?? this.declared.budget;
        const value = await withBudgetAlert(this.declared, this.step, budget, () => this.send(callOptions));
        return this.done(value, this.paths.length === 0 ? ['ok'] : this.paths);
      } catch (err) {
        if (isCancellation(err)) throw err;
        failure = err;
      }
      const described = describe(failure);
      this.attempts += described.attempts;
      const meaning = semanticsOf(described.type);
      // A failure after a retry proves nothing about the attempts before it: one of them may have applied.
      // Sent by someone else too: only the provider's definite refusal of this very request says anything.
      const definite = meaning.breaker === 'answered' && !meaning.retryable;
      let sentElsewhere = this.sentElsewhere() && !definite;
      if (sentElsewhere && !meaning.ambiguousOnWrite && described.attempts <= 1) {
        // Only the other send makes it unknown: wait until that send ended, or said it applied nothing.
        await this.otherSendEnded();
        sentElsewhere = this.sentElsewhere();
      }
      const unknown = this.declared.write && (meaning.ambiguousOnWrite || described.attempts > 1 || sentElsewhere);
      const settled = unknown ? await this.reconcile(described, meaning.ambiguousOnWrite) : undefined;
      if (settled?.kind === 'found') return this.done(settled.value, [...this.paths, 'found-by-lookup']);
      if (settled?.kind === 'resend') {
        callOptions = { summary: settled.summary };
        continue;
      }
      if (settled === undefined || settled.kind === 'not-applied') {
        this.mayHaveApplied = false;
        // A definite answer: the caller decides (an undo hands it to the saga with what it was about).
        if (!described.exhausted && !meaning.operatorFixable) {
          if (this.options.onGiveUp === 'throw') await this.giveUp(described);
          throw failure;
        }
      }

      const decision = await this.giveUp(described);
      switch (decision.action) {
        case 'retry':
          this.paths.push('operator-retry');
          this.resends = 0;
          this.attempts = 0;
          callOptions = { summary: `${this.step}: retried by an operator` };
          break;
        case 'retryWithBudget':
          this.paths.push('operator-retry');
          this.resends = 0;
          this.attempts = 0;
          callOptions = {
            summary: `${this.step}: retried by an operator (budget ${decision.budget})`,
            scheduleToClose: decision.budget as Duration,
          };
          break;
        case 'skip':
          return this.done(decision.result as O, [...this.paths, 'operator-skip']);
        case 'compensate':
          throw ApplicationFailure.create({
            type: 'CompensationRequested',
            message: `operator chose to compensate at step ${this.step}`,
            nonRetryable: true,
          });
        case 'fail':
          throw operatorFailed(decision.reason);
      }
    }
  }

  /**
   * Settles a cancelled write whose outcome is unknown (called outside the cancelled scope): found by
   * lookup or answered by a resend with the same key: returned; proven not applied: undefined. When it
   * cannot be settled, it parks: only an operator may then say what happened.
   */
  async settleAfterCancel(): Promise<StepResult<O> | undefined> {
    log.warn('cancelled while a write may have been applied: settling it first', { step: this.step });
    stage(`settling:${this.step}`);
    const lookup = this.lookup();
    if (lookup) {
      await this.otherSendEnded();
      const found = await this.lookUp(lookup);
      if (found.kind === 'found') return this.done(found.value, [...this.paths, 'settled-after-cancel']);
      if (found.kind === 'not-found') return undefined;
    } else if (this.declared.keyed && this.insideRetention()) {
      // Without a lookup, a resend with the same key is the only question the provider answers: if the
      // write was applied, it answers the first result; if not, it applies it now, and the undo follows.
      while (this.resends < this.maxResends()) {
        await this.backoff();
        try {
          const value = await this.send({ summary: `${this.step}: settle after cancellation, same key` });
          return this.done(value, [...this.paths, 'settled-after-cancel']);
        } catch (err) {
          const described = describe(err);
          if (!semanticsOf(described.type).ambiguousOnWrite && described.attempts === 1) return undefined;
        }
      }
    }
    this.settled('parked');
    const decision = await park(
      {
        ...this.where(),
        failureType: 'OutcomeUnknown',
        attempts: 1,
        lastError: 'cancelled while the outcome was unknown, and it could not be settled',
      },
      { canCompensate: true },
    );
    switch (decision.action) {
      case 'retry':
      case 'retryWithBudget':
        this.resends = 0;
        return this.settleAfterCancel();
      case 'skip':
        return this.done(decision.result as O, [...this.paths, 'operator-skip']);
      case 'compensate':
        return undefined;
      case 'fail':
        throw operatorFailed(decision.reason);
    }
  }

  private send(callOptions: CallOptions): Promise<O> {
    // A call in a cancelled scope is refused before it is scheduled: it cannot apply anything.
    if (this.declared.write && !CancellationScope.current().consideredCancelled) this.mayHaveApplied = true;
    const budget = callOptions.scheduleToClose ?? this.options.budget;
    return this.call(this.key === undefined ? this.input : { ...this.input, key: this.key }, {
      ...(this.options.summary ? { summary: this.options.summary } : {}),
      ...callOptions,
      ...(budget ? { scheduleToClose: budget } : {}),
    });
  }

  /**
   * Settles an unknown outcome: look it up (found; or not found: resent when the failure itself was
   * ambiguous, else proven not applied); or resend with the same key; or say it is stuck.
   */
  private async reconcile(failure: Described, ambiguous: boolean): Promise<Settled<O>> {
    stage(`reconciling:${this.step}`);
    log.warn('outcome unknown: reconciling before anything else', { step: this.step, failureType: failure.type });
    const lookup = this.lookup();
    if (lookup) {
      await this.otherSendEnded();
      const found = await this.lookUp(lookup);
      if (found.kind === 'found') return found;
      if (found.kind === 'not-found') {
        this.mayHaveApplied = false;
        // Unknown only because it failed after a retry: the lookup proves no attempt applied it.
        if (!ambiguous) return { kind: 'not-applied' };
        if (this.insideRetention() && this.resends < this.maxResends()) {
          await this.backoff();
          this.paths.push('resent-after-lookup');
          return { kind: 'resend', summary: `${this.step}: resend with the same key (lookup found nothing)` };
        }
      }
      return { kind: 'stuck' };
    }
    if (this.declared.keyed && this.insideRetention() && !failure.exhausted && this.resends < this.maxResends()) {
      await this.backoff();
      this.paths.push('resent-with-key');
      return { kind: 'resend', summary: `${this.step}: resend with the same key` };
    }
    return { kind: 'stuck' };
  }

  /** Parks for an operator, or (with `onGiveUp: 'throw'`) hands the failure to the caller. */
  private async giveUp(failure: Described): Promise<OperatorDecision> {
    const reason: GaveUp = {
      ...this.where(),
      failureType: failure.type,
      attempts: this.attempts,
      lastError: failure.message,
    };
    if (this.options.onGiveUp === 'throw') {
      throw ApplicationFailure.create({
        type: STEP_GAVE_UP,
        message: `${this.step}: ${failure.type}: ${failure.message}`,
        nonRetryable: true,
        details: [reason],
      });
    }
    this.settled('parked');
    return park(reason, { canCompensate: this.options.canCompensate ?? false });
  }

  /** Records the step end to end the first time it settles; later settlements (after an operator) do not count. */
  settled(outcome: StepOutcome): void {
    if (this.measured) return;
    this.measured = true;
    recordStepDuration(this.where(), outcome, Date.now() - this.startedAt);
  }

  private where(): Pick<GaveUp, 'integration' | 'endpoint' | 'step'> {
    return { integration: this.declared.integration, endpoint: this.declared.endpoint, step: this.step };
  }

  private lookup(): ((callOptions: CallOptions) => Promise<O | null>) | undefined {
    const { lookup } = this.declared;
    if (!lookup || this.key === undefined || this.options.lookup?.enabled === false) return undefined;
    const key = this.key;
    return (callOptions) => lookup(key, callOptions);
  }

  /** Looks the write's effect up; while the lookup itself fails, waits on a durable timer and tries again. */
  private async lookUp(
    lookup: (callOptions: CallOptions) => Promise<O | null>,
  ): Promise<{ kind: 'found'; value: O } | { kind: 'not-found' } | { kind: 'unavailable' }> {
    const deadline = Date.now() + durationMs(this.options.lookup?.budget ?? '10 minutes');
    for (let i = 1; ; i++) {
      try {
        const value = await lookup({ summary: `${this.step}: reconcile, look up by correlation id (${i})` });
        return value === null ? { kind: 'not-found' } : { kind: 'found', value };
      } catch (err) {
        if (isCancellation(err)) throw err;
        log.warn('lookup failed; trying again after a timer', { step: this.step, error: (err as Error).message });
        if (Date.now() >= deadline) return { kind: 'unavailable' };
        await sleep(this.options.lookup?.interval ?? '10 seconds', {
          summary: `${this.step}: wait before the next lookup`,
        });
      }
    }
  }

  /** Someone else's send of the same write (`sentElsewhereUntil`) has ended: a lookup now sees it if it applied. */
  private async otherSendEnded(): Promise<void> {
    const waitMs = (this.options.sentElsewhereUntil ?? 0) - Date.now();
    const ended = () =>
      !this.sentElsewhere() || (this.awaitsOtherSend && (this.options.sentElsewhereOver?.() ?? false));
    if (waitMs > 0 && !ended()) await condition(ended, waitMs);
  }

  /** Someone else may have applied this write too, and has not said that it did not. */
  private sentElsewhere(): boolean {
    return this.options.sentElsewhereUntil !== undefined && !(this.options.sentElsewhereEnded?.() ?? false);
  }

  /** The durable timer before a resend: 1 s, 2 s, 4 s ... (capped), so a poison answer cannot loop hot. */
  private async backoff(): Promise<void> {
    this.resends += 1;
    // Executions recorded before the timer existed resend at once, as they did.
    if (!patched('step-resend-backoff')) return;
    const initial = durationMs(this.options.resends?.initialInterval ?? '1 second');
    const maximum = durationMs(this.options.resends?.maximumInterval ?? '1 minute');
    const waitMs = Math.min(initial * 2 ** (this.resends - 1), maximum);
    await sleep(waitMs, { summary: `${this.step}: wait ${waitMs} ms before resend ${this.resends}` });
  }

  private maxResends(): number {
    return this.options.resends?.max ?? 5;
  }

  /** The provider still remembers the key (with a margin): a resend cannot apply twice. */
  private insideRetention(): boolean {
    const retention = this.declared.keyRetention;
    return retention !== undefined && Date.now() - this.startedAt < durationMs(retention) * 0.9;
  }

  private done(value: O, paths: StepPath[]): StepResult<O> {
    this.settled('ok');
    this.mayHaveApplied = false;
    recorded[this.step] = paths;
    upsertMemo({ steps: { ...recorded } });
    stage(`done:${this.step}`);
    return { value, paths };
  }
}

const recorded: Record<string, StepPath[]> = {};

function stage(value: string): void {
  upsertSearchAttributes([{ key: WorkflowStage, value }]);
}
