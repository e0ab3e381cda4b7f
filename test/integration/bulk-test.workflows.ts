// Test-only workflows for bulk resolution: cheap ones that park through the real park(), with no provider call.
import { condition } from '@temporalio/workflow';
import type { OperatorDecision } from '../../src/contracts/messages';
import { installOperatorHandlers, park } from '../../src/workflows/patterns/park';

export interface ParkedForBulkInput {
  /** The IntegrationName it parks on: one per test, so each test's query matches its own workflows only. */
  integration: string;
  canCompensate?: boolean;
}

/** Parks at once, as a step whose budget ran out would, and ends with the decision it was given. */
export async function parkedForBulk(input: ParkedForBulkInput): Promise<OperatorDecision> {
  return park(
    {
      integration: input.integration,
      endpoint: 'send',
      step: 'send',
      failureType: 'ServerError',
      attempts: 3,
      lastError: 'test: provider answered 503',
    },
    { canCompensate: input.canCompensate ?? false },
  );
}

/** Answers resolveParked but is not parked (started with NeedsAttention = true, so a query lists it). */
export async function listedButNotParked(): Promise<void> {
  installOperatorHandlers();
  await condition(() => false);
}
