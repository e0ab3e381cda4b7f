// Test-only workflow for the status page test: parks on an integration through the real park pattern.
import { park } from '../../src/workflows/patterns/park';

/** Parks at once, as a step whose retries ran out on `integration` would, and returns the decision's action. */
export async function parkOnIntegration(integration: string): Promise<string> {
  const decision = await park(
    {
      integration,
      endpoint: 'hello',
      step: 'hello',
      failureType: 'ServerError',
      attempts: 3,
      lastError: 'HTTP 503 from the sandbox',
    },
    { canCompensate: false },
  );
  return decision.action;
}
