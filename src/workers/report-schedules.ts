import {
  ScheduleAlreadyRunning,
  ScheduleOverlapPolicy,
  type Client,
  type ScheduleOptions,
  type ScheduleSpec,
} from '@temporalio/client';
import { REPORTS_TASK_QUEUE, clientErrorScheduleId, reportPeriods, type ReportPeriod } from '../contracts/reports';
import { WORKFLOWS_TASK_QUEUE } from '../contracts/task-queues';

/**
 * The 4xx report's Schedules: `client-errors-daily` (every day at 00:00 UTC, the past 24 h) and
 * `client-errors-weekly` (Mondays at 00:00 UTC, the past 7 days). Each starts `reportClientErrors`,
 * which runs one child report per integration (src/workflows/report-client-errors.workflow.ts).
 */
const specs: Record<ReportPeriod, ScheduleSpec> = {
  daily: { calendars: [{ hour: 0, minute: 0, comment: 'every day, 00:00 UTC' }] },
  weekly: { calendars: [{ dayOfWeek: 'MONDAY', hour: 0, minute: 0, comment: 'Mondays, 00:00 UTC' }] },
};

export function reportScheduleOptions(period: ReportPeriod): ScheduleOptions {
  return {
    scheduleId: clientErrorScheduleId(period),
    spec: specs[period],
    action: {
      type: 'startWorkflow',
      workflowType: 'reportClientErrors',
      // Temporal appends the scheduled time: client-errors-daily-2026-12-02T00:00:00Z.
      workflowId: clientErrorScheduleId(period),
      taskQueue: WORKFLOWS_TASK_QUEUE,
      args: [{ period }],
      workflowExecutionTimeout: '1 hour',
      staticSummary: `4xx report, ${period}: one child report per integration (activity queue ${REPORTS_TASK_QUEUE})`,
    },
    policies: {
      // A report still running when the next is due: skip the next rather than pile up.
      overlap: ScheduleOverlapPolicy.SKIP,
      // Temporal down at midnight: the report still runs once it is back, within the day.
      catchupWindow: '1 day',
    },
    state: { note: 'The 4xx report (README, Metrics and alerts). Created by the workers and `npm run schedules`.' },
  };
}

/**
 * Creates the report Schedules, or brings existing ones to this spec and action (idempotent: every
 * worker does it at start, `npm run schedules` on demand). A schedule an operator paused stays paused,
 * with its note.
 */
export async function ensureReportSchedules(
  client: Client,
): Promise<{ scheduleId: string; action: 'created' | 'updated' }[]> {
  const done: { scheduleId: string; action: 'created' | 'updated' }[] = [];
  for (const period of reportPeriods) {
    const options = reportScheduleOptions(period);
    try {
      await client.schedule.create(options);
      done.push({ scheduleId: options.scheduleId, action: 'created' });
    } catch (err) {
      if (!(err instanceof ScheduleAlreadyRunning)) throw err;
      await client.schedule.getHandle(options.scheduleId).update((previous) => ({
        ...previous,
        spec: options.spec,
        action: options.action,
        policies: { ...previous.policies, ...options.policies },
      }));
      done.push({ scheduleId: options.scheduleId, action: 'updated' });
    }
  }
  return done;
}
