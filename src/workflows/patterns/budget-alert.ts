import type { Duration } from '@temporalio/common';
import { CancellationScope, isCancellation, log, metricMeter, sleep } from '@temporalio/workflow';
import { durationMs } from '../../integrations/kit/duration';
import type { DeclaredEndpoint } from '../integration-proxy';

/** Runs `call`; if it is still running at 80 % of its budget, logs an alert and counts it. */
export async function withBudgetAlert<T>(
  declared: DeclaredEndpoint<unknown>,
  step: string,
  budget: Duration,
  call: () => Promise<T>,
): Promise<T> {
  const scope = new CancellationScope();
  const alert = scope
    .run(async () => {
      await sleep(Math.round(durationMs(budget) * 0.8), { summary: `${step}: alert at 80 % of the budget` });
      log.warn('integration call at 80 % of its budget: fix it while retries remain', {
        step,
        integration: declared.integration,
        endpoint: declared.endpoint,
        budget: String(budget),
      });
      metricMeter
        .createCounter('integration_budget_alert', 'calls', 'calls past 80 % of their clock-time budget')
        .add(1, { integration: declared.integration, endpoint: declared.endpoint });
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
