import { ApplicationFailure } from '@temporalio/activity';
import type { ClientErrorCounts, ClientErrorQuery } from '../contracts/reports';
import { integrationNames } from '../integrations';
import { endQuery, responseCounts, windowQuery, type SeriesPoints } from '../observability/response-counts';

export interface ReportActivityOptions {
  /**
   * Prometheus's base URL (config `PROMETHEUS_URL`), e.g. `http://prometheus:9090`: the system of record
   * for counts across every worker. Unset: the report says no metrics source is configured.
   */
  prometheusUrl?: string;
  /** @default 30 seconds */
  queryTimeoutMs?: number;
}

/** Activities on the `reports` queue (src/contracts/reports.ts): they read Prometheus, not a provider. */
export function createReportActivities(options: ReportActivityOptions) {
  return {
    /**
     * The window's provider answers of one integration by endpoint, HTTP status and outcome. A Prometheus
     * that does not answer fails the attempt (Temporal retries it); a query Prometheus refuses does not retry.
     */
    async queryClientErrors(query: ClientErrorQuery): Promise<ClientErrorCounts> {
      if (!(integrationNames as string[]).includes(query.integration)) {
        throw ApplicationFailure.nonRetryable(
          `unknown integration "${query.integration}": expected one of ${integrationNames.join(', ')}`,
          'InvalidInput',
        );
      }
      if (!(query.endMs > query.startMs)) {
        throw ApplicationFailure.nonRetryable('the window must end after it starts (endMs > startMs)', 'InvalidInput');
      }
      const base = options.prometheusUrl;
      if (!base) {
        return {
          source: 'none',
          reason: 'no metrics source configured: set PROMETHEUS_URL on the workers (the Prometheus that scrapes them)',
        };
      }
      const ask = (expr: string) => instantQuery(base, expr, query.endMs, options.queryTimeoutMs ?? 30_000);
      const [window, end] = await Promise.all([ask(windowQuery(query)), ask(endQuery(query))]);
      return { source: 'prometheus', url: publicUrl(base), counts: responseCounts(window, end, query.startMs) };
    },
  };
}

export type ReportActivities = ReturnType<typeof createReportActivities>;

/** `GET /api/v1/query` at `timeMs`: a vector or a matrix, as series with their points. */
async function instantQuery(base: string, expr: string, timeMs: number, timeoutMs: number): Promise<SeriesPoints[]> {
  const url = new URL('api/v1/query', base.endsWith('/') ? base : `${base}/`);
  url.searchParams.set('query', expr);
  url.searchParams.set('time', String(timeMs / 1000));
  const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  const text = await response.text();
  let body: {
    status?: string;
    error?: string;
    data?: {
      resultType: string;
      result: { metric: Record<string, string>; value?: [number, string]; values?: [number, string][] }[];
    };
  };
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    throw new Error(
      `Prometheus at ${publicUrl(base)} answered ${response.status} without JSON: is PROMETHEUS_URL its base URL?`,
    );
  }
  if (body.status !== 'success' || !body.data) {
    const message = `Prometheus refused the query (${response.status}): ${body.error ?? 'no error given'}`;
    // A 4xx is our query's fault and will not change on a retry; a 5xx or 503 may.
    if (response.status >= 400 && response.status < 500) throw ApplicationFailure.nonRetryable(message, 'InvalidQuery');
    throw new Error(message);
  }
  return body.data.result.map((r) => ({ labels: r.metric, points: r.values ?? (r.value ? [r.value] : []) }));
}

/** The URL without credentials a user may have put in it: it goes into the report. */
function publicUrl(base: string): string {
  try {
    const url = new URL(base);
    url.username = '';
    url.password = '';
    return url.toString();
  } catch {
    return '(unparsable PROMETHEUS_URL)';
  }
}
