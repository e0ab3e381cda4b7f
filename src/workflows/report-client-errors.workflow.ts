import { defineSearchAttributeKey } from '@temporalio/common';
import {
  ApplicationFailure,
  executeChild,
  isCancellation,
  proxyActivities,
  setCurrentDetails,
  upsertMemo,
  workflowInfo,
} from '@temporalio/workflow';
import type { ReportActivities } from '../activities/report.activities';
import {
  REPORTS_TASK_QUEUE,
  clientErrorReportId,
  reportPeriodMs,
  reportPeriods,
  type ClientErrorCounts,
  type ReportPeriod,
} from '../contracts/reports';
import { IntegrationName } from '../contracts/search-attributes';
import { integrationNames } from '../integrations/manifest.generated';
import { buildClientErrorReport, clientErrorMarkdown, type ClientErrorReport } from './client-error-report';
import { failureSummary } from './patterns/steps';

export type { ClientErrorReport } from './client-error-report';

const { queryClientErrors } = proxyActivities<ReportActivities>({
  taskQueue: REPORTS_TASK_QUEUE,
  startToCloseTimeout: '1 minute',
  // A Prometheus that stays down for this long: the report says so instead of waiting for it.
  scheduleToCloseTimeout: '10 minutes',
  retry: { initialInterval: '5 seconds', backoffCoefficient: 2, maximumInterval: '1 minute' },
});

/** Set by Temporal on every run a Schedule starts: the time it was scheduled (or triggered) for. */
const ScheduledStartTime = defineSearchAttributeKey('TemporalScheduledStartTime', 'DATETIME');

export interface ReportClientErrorsInput {
  period: ReportPeriod;
  /** @default every HTTP integration of the registry */
  integrations?: string[];
  /** End of the window, epoch ms. @default the run's scheduled time, else its start */
  endMs?: number;
}

export interface ClientErrorSummary {
  period: ReportPeriod;
  start: string;
  end: string;
  /** One line per integration, with the ID of its report workflow. */
  reports: (Pick<ClientErrorReport, 'integration' | 'source' | 'responses' | 'clientErrors' | 'ratio'> & {
    workflowId: string;
  })[];
}

/**
 * The daily or weekly 4xx report (started by the Schedules `client-errors-daily` and `client-errors-weekly`,
 * src/workers/report-schedules.ts): one child report per integration, with the ID
 * `client-errors-<period>-<integration>-<end>` and the search attribute IntegrationName, so an operator
 * finds each integration's reports in the UI; this run keeps the overview.
 */
export async function reportClientErrors(input: ReportClientErrorsInput): Promise<ClientErrorSummary> {
  if (!reportPeriods.includes(input.period)) {
    throw ApplicationFailure.nonRetryable(
      `unknown period "${String(input.period)}": expected ${reportPeriods.join(' or ')}`,
      'InvalidInput',
    );
  }
  const names = input.integrations ?? integrationNames;
  const unknown = names.filter((n) => !(integrationNames as string[]).includes(n));
  if (unknown.length > 0) {
    throw ApplicationFailure.nonRetryable(
      `unknown integration(s) ${unknown.join(', ')}: expected some of ${integrationNames.join(', ')}`,
      'InvalidInput',
    );
  }
  const endMs = input.endMs ?? scheduledTime() ?? Math.floor(Date.now() / 1000) * 1000;
  const startMs = endMs - reportPeriodMs[input.period];
  const reports = await Promise.all(
    names.map(async (integration) => {
      const workflowId = clientErrorReportId(input.period, integration, endMs);
      const report = await executeChild(reportIntegrationClientErrors, {
        workflowId,
        args: [{ integration, period: input.period, startMs, endMs }],
        typedSearchAttributes: [{ key: IntegrationName, value: integration }],
        staticSummary: `4xx report: ${integration}, ${input.period}, to ${new Date(endMs).toISOString()}`,
      });
      const { source, responses, clientErrors, ratio } = report;
      return { integration, workflowId, source, responses, clientErrors, ratio };
    }),
  );
  const summary: ClientErrorSummary = {
    period: input.period,
    start: new Date(startMs).toISOString(),
    end: new Date(endMs).toISOString(),
    reports,
  };
  upsertMemo({ clientErrors: summary });
  setCurrentDetails(
    [
      `## 4xx reports, ${summary.period}: ${summary.start} to ${summary.end}`,
      '',
      '| integration | answers | 4xx | share | report |',
      '| --- | ---: | ---: | ---: | --- |',
      ...reports.map(
        (r) =>
          `| ${r.integration} | ${r.source === 'prometheus' ? r.responses : r.source} | ${r.clientErrors} | ${
            r.ratio === null ? '-' : `${(r.ratio * 100).toFixed(1)} %`
          } | ${r.workflowId} |`,
      ),
    ].join('\n'),
  );
  return summary;
}

/** One integration's 4xx report for one window: the result, the memo `clientErrors` and the details. */
export async function reportIntegrationClientErrors(input: {
  integration: string;
  period: ReportPeriod;
  startMs: number;
  endMs: number;
}): Promise<ClientErrorReport> {
  let counts: ClientErrorCounts;
  try {
    counts = await queryClientErrors({ integration: input.integration, startMs: input.startMs, endMs: input.endMs });
  } catch (err) {
    if (isCancellation(err)) throw err;
    // Prometheus stayed unreachable (or refused the query): the report says so, once, instead of failing.
    counts = { source: 'unavailable', reason: `metrics source unavailable: ${failureSummary(err)}` };
  }
  const report = buildClientErrorReport(input, counts);
  upsertMemo({ clientErrors: report });
  setCurrentDetails(clientErrorMarkdown(report));
  return report;
}

function scheduledTime(): number | undefined {
  const at = workflowInfo().typedSearchAttributes.get(ScheduledStartTime);
  return at ? Math.floor(at.getTime() / 1000) * 1000 : undefined;
}
