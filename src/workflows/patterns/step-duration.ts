import { metricMeter } from '@temporalio/workflow';
import { STEP_DURATION_METRIC } from '../../contracts/workflow-metrics';

/**
 * How the step's own work ended: `ok` (a result: the provider's answer, found by a lookup or a resend),
 * `failed` (a definite failure handed to the caller), `parked` (handed to an operator: their time is not
 * the step's), `cancelled`. A bounded set.
 */
export type StepOutcome = 'ok' | 'failed' | 'parked' | 'cancelled';

/**
 * One observation of the step end to end (`integration_step_duration_seconds`), through the workflow's
 * metric meter: the SDK skips it while replaying (a step is counted once, not at every replay) and it adds
 * no command (recorded histories replay unchanged). Durations are workflow time, deterministic.
 */
export function recordStepDuration(
  where: { integration: string; endpoint: string },
  outcome: StepOutcome,
  durationMs: number,
): void {
  metricMeter
    .createHistogram(STEP_DURATION_METRIC, 'float', 's', 'a workflow step from its first schedule to its settlement')
    .record(Math.max(0, durationMs) / 1000, { integration: where.integration, endpoint: where.endpoint, outcome });
}
