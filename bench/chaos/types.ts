import type { FulfillOrderInput } from '../../src/workflows/fulfill-order.workflow';
import type { StartedOrder } from '../../src/client';
import type { ChargeOutcome } from '../../src/contracts/messages';
import type { ChaosStack } from './stack';

/** `quick`: a few orders per case, minutes in all (the jest test); `full`: the matrix the brief asks for. */
export type Scale = 'quick' | 'full';

/** One `startOrder` call, as the service saw it. */
export type StartAnswer =
  | { ok: true; at: number; attempts: number; charge: ChargeOutcome; answeredBy?: StartedOrder['answeredBy'] }
  | { ok: false; at: number; attempts: number; error: string };

/** How an order ended, from Temporal (and the ledger, for `failed-*`). Mutually exclusive. */
export type Final =
  /** Closed Completed, stage `completed`. */
  | 'completed'
  /** Closed Completed, stage `compensated`. */
  | 'compensated'
  /** Closed any other way (stage `failed`, or Failed/Canceled/Terminated/TimedOut) with no charge kept. */
  | 'failed-uncharged'
  /** Closed any other way with a charge kept (also counted as lost). */
  | 'failed-charged'
  /** Open and NeedsAttention = true: waiting for an operator. */
  | 'parked'
  /** Open, not parked, after the case's settle wait. */
  | 'stranded'
  /** No workflow (every start failed) and no effect at any provider. */
  | 'not-started';

/** An order a case started; the runner settles and evaluates every one of them after the case. */
export interface TrackedOrder {
  orderId: string;
  workflowId: string;
  /** What the case did to it, e.g. `cancel while invoicing`. */
  label: string;
  input: FulfillOrderInput;
  startedAt: number;
  answers: StartAnswer[];
  /** startOrder calls still waiting for their answer. */
  pendingStarts: number;
  /** Where it may end beyond the promise's invariants; another end counts as unexpected. */
  expect?: Final[];
  /** A case-specific invariant: returns what is wrong, or undefined. Counts as unexpected. */
  check?: (evaluation: OrderEvaluation) => string | undefined;
  /** Started (and started again) through startOrder's co-located fast path (`directCalls`). */
  fast?: boolean;
  /** ... with the order recorded first (`orderIntents`): the charge and the start together. */
  recorded?: boolean;
  /** Resolves with the first answer (either kind). */
  firstAnswer: Promise<StartAnswer>;
}

export type Effect = 'payment.created' | 'refund.created' | 'document.generated' | 'email.sent' | 'customer.updated';

export interface OrderEvaluation {
  orderId: string;
  workflowId: string;
  label: string;
  final: Final;
  /** Temporal's execution status, e.g. COMPLETED, RUNNING, CANCELLED. */
  status: string;
  /** `OrderStatus.stage` of a completed workflow. */
  stage?: string;
  /** Step and failure type the order is parked on. */
  parkedOn?: string;
  /** Why it did not complete (`OrderStatus.failure`, or the workflow's failure). */
  failure?: string;
  /** Ledger effects of this order (keys starting `order-<orderId>:`), by effect. */
  effects: Partial<Record<Effect, number>>;
  /** Keys applied more than once. */
  duplicateKeys: string[];
  chargeKept: boolean;
  lost: boolean;
  duplicated: boolean;
  misreported: boolean;
  stranded: boolean;
  unexpected?: string;
  historyLength?: number;
  runs: number;
  answers: string[];
  /** Payment ids the service was told, one per answer that said charged. */
  answeredPayments: string[];
}

export interface CaseCounts {
  orders: number;
  completed: number;
  compensated: number;
  failedUncharged: number;
  failedCharged: number;
  parked: number;
  notStarted: number;
  lost: number;
  duplicated: number;
  stranded: number;
  misreported: number;
  unexpected: number;
  maxHistory: number;
}

/** What a case is given: the stack, and helpers that track what it starts. */
export interface CaseContext {
  scale: Scale;
  stack: ChaosStack;
  /** Seeded: the same --seed replays the same chaos schedule (timing aside). */
  random(): number;
  /** Picks an integer in [min, max]. */
  between(min: number, max: number): number;
  log(line: string): void;
  /** Starts an order through `IntegrationsClient.startOrder`, retrying while Temporal is unreachable. */
  startOrder(options: {
    label: string;
    customerId?: string;
    amount?: number;
    expect?: Final[];
    check?: TrackedOrder['check'];
    /**
     * Through the fast path (`IntegrationsClient` with `directCalls`); `true` alternates between starting
     * first and recording the order first (`orderIntents`), `'recorded'` always records. @default false
     */
    fast?: boolean | 'recorded';
  }): TrackedOrder;
  /** The same order, tracked and evaluated, but not started: the case starts it (startAgain, a process). */
  trackOrder(options: Parameters<CaseContext['startOrder']>[0]): TrackedOrder;
  /** startOrder again for the same order (a service retrying, or a second request). */
  startAgain(order: TrackedOrder): Promise<StartAnswer>;
  /** Waits (with the case's cap) until these orders are closed or parked; false when the cap passed first. */
  settle(orders: TrackedOrder[], capMs?: number): Promise<boolean>;
  /** A CRM customer (cus_0001..cus_0050) no other order of this case uses, for per-customer fault rules. */
  customer(): string;
  /** Order stage by query; undefined while it cannot be read. */
  stage(order: TrackedOrder): Promise<string | undefined>;
  /** Whether the order's workflow is parked (NeedsAttention = true). */
  isParked(order: TrackedOrder): Promise<boolean>;
  /** Sets open breakers back to automatic (as between cases), for a case whose phases must not inherit one. */
  resetBreakers(): Promise<void>;
  /** Waits for a condition with a generous cap; false (and a log line) when the cap passed first. */
  waitFor(what: string, check: () => Promise<boolean>, capMs?: number): Promise<boolean>;
}

/** One class of fault: starts its orders and injects its chaos; the runner settles and counts. */
export interface ChaosCase {
  name: string;
  /** One line for the table. */
  title: string;
  /**
   * false: left out of the quick matrix (`--quick` with no `--case`, and the jest test, whose time is spent)
   * unless named; the full matrix runs it. @default true
   */
  quick?: boolean;
  run(ctx: CaseContext): Promise<void>;
}
