import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { Payment } from '../integrations/payments/payments.integration';

/**
 * Signals, queries and updates, defined once and shared by workflows, clients and the webhook
 * receiver. Their names are stored in histories: an API, like workflow and activity names.
 */

/** A document job finished, as told by the provider's webhook (or found by polling). */
export interface DocumentJobResult {
  jobId: string;
  status: 'completed' | 'failed';
  documentUrl?: string;
  /** Which path delivered it: `webhook` or `poll`. */
  source: 'webhook' | 'poll';
  /** The provider's event id, when it came from a webhook. */
  eventId?: string;
}

export const documentJobFinished = defineSignal<[DocumentJobResult]>('documentJobFinished');

/** The workflow ID of the workflow that waits for a document job: the webhook receiver signals it. */
export function documentJobWorkflowId(jobId: string): string {
  return `document-job-${jobId}`;
}

/** Why a workflow is parked, as an operator reads it (query `parkedState`, memo `parked`, UI details). */
export interface ParkedInfo {
  integration: string;
  endpoint: string;
  /** The workflow step, e.g. `charge`. */
  step: string;
  /** The failure type that ended the attempts, e.g. `OutcomeUnknown`, `ServerError`. */
  failureType: string;
  attempts: number;
  lastError: string;
  /** Workflow time when it parked (ISO 8601). */
  since: string;
  /** Decisions this park accepts. */
  allowed: OperatorDecision['action'][];
  /** What the provider's status page says, when it changed while parked ("provider reports an incident since …"). */
  providerStatus?: string;
  /**
   * A parked bulk batch (`sendInBulk`): how many of its items are in question and their keys (at most 100;
   * keys only, never bodies). Its `skip` needs no result: it accepts those items as they are.
   */
  items?: { count: number; keys: string[] };
}

/**
 * What an operator decides for a parked workflow (Temporal Update `resolveParked`):
 * - `retry`: run the step again now, with its usual budget;
 * - `retryWithBudget`: run it again with a new clock-time budget, e.g. `"2 hours"`;
 * - `skip`: treat the step as done with the given result (e.g. it was fixed by hand at the provider);
 * - `compensate`: give up on the step and undo what the workflow already did;
 * - `fail`: end the workflow as failed, with a reason.
 */
export type OperatorDecision =
  | { action: 'retry' }
  | { action: 'retryWithBudget'; budget: string }
  | { action: 'skip'; result: unknown }
  | { action: 'compensate' }
  | { action: 'fail'; reason: string };

export const resolveParked = defineUpdate<{ accepted: OperatorDecision['action']; step: string }, [OperatorDecision]>(
  'resolveParked',
);
export const parkedState = defineQuery<ParkedInfo | null>('parkedState');

/** Where an order is, for the service that started it and for operators (query `orderStatus`). */
export interface OrderStatus {
  stage:
    | 'charging'
    | 'charged'
    | 'invoicing'
    | 'emailing'
    | 'completing'
    | 'completed'
    | 'compensating'
    | 'compensated'
    /** Some undos could not be done and an operator gave up on them: see `notCompensated`. */
    | 'compensation-incomplete'
    | 'failed';
  paymentId?: string;
  invoiceUrl?: string;
  /** Why the order did not complete, when it did not. */
  failure?: string;
  /** Steps undone, in the order they were undone. */
  compensated?: string[];
  /** Steps that could not be undone (an operator decided to leave them). */
  notCompensated?: string[];
  /** The order was cancelled (and compensated). */
  cancelled?: boolean;
}

/** The user-flow part of an order, answered as soon as the charge is settled (early return). */
export interface ChargeOutcome {
  charged: boolean;
  /** The charge's outcome is not known yet: it is parked for an operator (`charged` is then false). */
  pending?: boolean;
  paymentId?: string;
  failure?: string;
}

export const orderStatus = defineQuery<OrderStatus>('orderStatus');
/** Waits until the charge is settled; sent with update-with-start so the caller gets it in one round trip. */
export const chargeSettled = defineUpdate<ChargeOutcome>('chargeSettled');

/**
 * From `startOrder`'s fast path: its own send of the charge ended with a definite failure (refused before it
 * left, declined, a 5xx: the failure table's non-ambiguous types), so it applied nothing. The charge step then
 * stops counting that send as maybe applied, instead of waiting for its deadline.
 */
export const directChargeEnded = defineSignal<[{ applied: false; failureType: string }]>('directChargeEnded');

/**
 * From `startOrder`'s fast path, when it started the order with `directCharge.endSignalled`: its own send of
 * the charge ended without proving it applied nothing. `answered`: a clean success, and `payment` is the
 * provider's answer to it (validated by the engine): the charge step takes it as its result, with no request
 * of its own. Otherwise (an unknown outcome, an engine error) the step sends its own request with the same key:
 * the provider answers it with its replay, or applies it if the service's send never arrived. A separate
 * signal, not `directChargeEnded`: a worker that predates it ignores it, instead of taking it for "applied
 * nothing".
 */
export const directChargeSent = defineSignal<[{ answered: boolean; payment?: Payment }]>('directChargeSent');

export function orderWorkflowId(orderId: string): string {
  return `order-${orderId}`;
}

/** One message for the email batcher (signal `queueEmail`); the shape of `email.send`'s body. */
export interface QueuedEmail {
  /** Recipient address (PII: in histories only as encrypted payloads, never in IDs or search attributes). */
  to: string;
  subject: string;
  body: string;
}

/** Queues a message for the next batch; services send it with signalWithStart, so the batcher starts if needed. */
export const queueEmail = defineSignal<[QueuedEmail]>('queueEmail');

/** One flush of the email batcher. */
export interface BatchFlush {
  /** 1-based across continue-as-new; the idempotency key is `<workflowId>:<chain run id>:batch-<n>`. */
  batch: number;
  size: number;
  /** What triggered it: the batch was full, the oldest message waited `maxWait`, or the batcher was stopping. */
  reason: 'size' | 'timer' | 'drain';
  /** How it ended: sent, or refused by the provider (logged as an error; the messages are dropped). */
  outcome: 'sent' | 'refused';
}

/** The email batcher's counters (query `batcherState`), carried across continue-as-new. */
export interface BatcherState {
  /** Messages queued and not yet sent (those of a flush in progress included). */
  pending: number;
  /** Flushes done, every run together. */
  flushes: number;
  /** Messages the provider accepted. */
  sent: number;
  /** Messages dropped when queued because they were malformed. */
  rejected: number;
  /** Messages in batches the provider refused. */
  refused: number;
  /** Workflow time (ISO 8601) by which the pending messages are flushed at the latest; absent when none wait. */
  flushBy?: string;
  /** The latest flushes, oldest first (at most 20). */
  recent: BatchFlush[];
}

export const batcherState = defineQuery<BatcherState>('batcherState');

/** The workflow ID of a payroll run's file exchange (`exchangePayrollFile`): one exchange per run. */
export const payrollFileWorkflowId = (payrollId: string) => `payroll-file-${payrollId}`;
