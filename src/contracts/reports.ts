/**
 * The 4xx report (issue 11): a Temporal Schedule per period starts `reportClientErrors`, which runs one
 * child report per integration. Names and IDs here are an API: operators find reports by them.
 */

/** The task queue of the report's activity (it reads Prometheus, not a provider). */
export const REPORTS_TASK_QUEUE = 'reports';

export type ReportPeriod = 'daily' | 'weekly';

export const reportPeriods: readonly ReportPeriod[] = ['daily', 'weekly'];

/** The window each period covers, ending when the run was scheduled. */
export const reportPeriodMs: Record<ReportPeriod, number> = {
  daily: 24 * 3600_000,
  weekly: 7 * 24 * 3600_000,
};

/** `client-errors-daily`, `client-errors-weekly`: the Schedules (Temporal appends the scheduled time to their runs' IDs). */
export function clientErrorScheduleId(period: ReportPeriod): string {
  return `client-errors-${period}`;
}

/**
 * One integration's report for the period ending at `endMs`, e.g.
 * `client-errors-daily-payments-2026-12-02T00:00:00Z`: names only, no customer data.
 */
export function clientErrorReportId(period: ReportPeriod, integration: string, endMs: number): string {
  return `client-errors-${period}-${integration}-${new Date(endMs).toISOString().replace(/\.\d{3}Z$/, 'Z')}`;
}

/** What the report's activity is asked: one integration, one window. */
export interface ClientErrorQuery {
  integration: string;
  /** Epoch ms, exclusive. */
  startMs: number;
  /** Epoch ms, inclusive. */
  endMs: number;
}

/** One count of the window: answers of one endpoint with one HTTP status, by what the call made of it. */
export interface ResponseCount {
  endpoint: string;
  status: number;
  /** `ok`, or the failure type (`RequestRejected`, `NotFound`, `Unauthorized`, `RateLimited`, ...). */
  outcome: string;
  count: number;
}

/** What the activity answers: the window's counts, or why there are none. */
export type ClientErrorCounts =
  | { source: 'prometheus'; url: string; counts: ResponseCount[] }
  /** PROMETHEUS_URL is not set on the worker that ran the activity. */
  | { source: 'none'; reason: string }
  /** Prometheus did not answer (after the activity's retries). */
  | { source: 'unavailable'; reason: string };
