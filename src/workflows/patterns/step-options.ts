import type { Duration } from '@temporalio/common';

/** What a step may be told, and what it answers: the declarations of `runStep` (src/workflows/patterns/steps.ts). */

/** How a step reached its result; recorded in the memo `steps` and readable in the UI. */
export type StepPath =
  | 'ok'
  | 'resent-with-key'
  | 'found-by-lookup'
  | 'resent-after-lookup'
  | 'operator-retry'
  | 'operator-skip'
  | 'settled-after-cancel'
  | 'answered-elsewhere';

export interface StepResult<T> {
  value: T;
  paths: StepPath[];
}

export interface StepOptions {
  /**
   * The idempotency key of a write, when the step name alone is not unique across the executions that
   * share this workflow ID (e.g. a batcher started again after it ended). @default `stepKey(step)`
   */
  key?: string;
  /**
   * The same write (same key, same body) is also sent by someone else, whose send ends by this time
   * (epoch ms): `startOrder`'s fast path sends the charge from the service. The step then counts the
   * write as maybe applied from the start: a cancellation settles it first, a failure of its own send
   * (refused by the breaker, a 5xx, a timeout) proves nothing about the other send, and a lookup is
   * trusted only once that send must have ended. Only the provider's definite refusal of the request
   * (a 4xx such as a decline) stays definite. @default nobody else sends it
   */
  sentElsewhereUntil?: number;
  /** True once the other sender said its send applied nothing: the step then goes on as if alone. */
  sentElsewhereEnded?: () => boolean;
  /**
   * Given: the other sender says when its send ended, whatever it did (`sentElsewhereEnded` or this turns
   * true). The step then sends its own request only once it did, or at `sentElsewhereUntil` (the other
   * sender crashed): never while the other send is in flight. Its own send, with the same key, gets the
   * provider's replay of what the other send applied, or applies it when that send never arrived; and a
   * lookup is trusted from then on. @default the step sends at once
   */
  sentElsewhereOver?: () => boolean;
  /**
   * With `sentElsewhereOver`: the other sender's send succeeded and this is the provider's answer to it (the
   * same key, the same body). The step then takes it as its own result (path `answered-elsewhere`) instead of
   * sending its own request for the provider's replay: no activity, no second provider request. Unset or
   * undefined (no answer came, or the other send did not succeed): the step sends its own, as above.
   */
  sentElsewhereAnswer?: () => unknown;
  /** Whether an operator may choose `compensate` when this step parks. @default false */
  canCompensate?: boolean;
  /** Replaces the endpoint's clock-time budget (its profile's schedule-to-close) for this step. */
  budget?: Duration;
  /** One line shown next to the step's activities in the UI. */
  summary?: string;
  /** How an unknown outcome is looked up, when the endpoint declares a lookup. */
  lookup?: {
    /** `false` settles by resending with the key only (tests). @default true */
    enabled?: boolean;
    /** How long to keep trying the lookup while it fails. @default 10 minutes */
    budget?: Duration;
    /** Durable timer between failed lookups. @default 10 seconds */
    interval?: Duration;
  };
  /** Resends of a write whose outcome stayed unknown: each after a growing durable timer, then park. */
  resends?: {
    /** @default 5 */
    max?: number;
    /** Timer before the first resend, doubled for each next one. @default 1 second */
    initialInterval?: Duration;
    /** @default 1 minute */
    maximumInterval?: Duration;
  };
  /**
   * What a step that cannot complete (a definite refusal, a budget run out, an outcome left unknown)
   * does: `park` for an operator (a definite refusal is thrown as it is), or `throw` a `StepGaveUp`
   * failure that says which step and endpoint, so the caller decides (the saga runs its other undos,
   * then parks once for all that failed). @default 'park'
   */
  onGiveUp?: 'park' | 'throw';
}
