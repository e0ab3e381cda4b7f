import type { ClientErrorCounts, ReportPeriod, ResponseCount } from '../contracts/reports';

/**
 * The 4xx report of one integration, from the window's counts: per endpoint its answers, its 4xx and their
 * share, by status; and the top reasons (status and the failure type the call made of it). Pure and
 * deterministic: the workflow builds it, keeps it as its result and memo, and shows it as markdown.
 */
export interface ClientErrorReport {
  integration: string;
  period: ReportPeriod;
  /** ISO 8601, exclusive. */
  start: string;
  /** ISO 8601, inclusive. */
  end: string;
  /** Where the counts come from; `none` or `unavailable` with the reason, and no counts. */
  source: ClientErrorCounts['source'];
  note?: string;
  /** Every provider answer in the window (any status). */
  responses: number;
  /** Answers with a 4xx status. */
  clientErrors: number;
  /** clientErrors / responses; null without answers. */
  ratio: number | null;
  /** Endpoints that answered, the most 4xx first. */
  endpoints: EndpointReport[];
  /** The most frequent 4xx reasons (at most {@link TOP_REASONS}). */
  topReasons: Reason[];
}

export interface EndpointReport {
  endpoint: string;
  responses: number;
  clientErrors: number;
  ratio: number;
  /** 4xx answers by status, the most frequent first. */
  byStatus: { status: number; count: number }[];
}

export interface Reason {
  status: number;
  /** The failure type the call made of it (`RequestRejected`, `NotFound`, `Unauthorized`, ...; `ok` for a 404 a lookup expects). */
  outcome: string;
  count: number;
  endpoints: string[];
}

export const TOP_REASONS = 5;

const isClientError = (c: ResponseCount) => c.status >= 400 && c.status < 500;

export function buildClientErrorReport(
  window: { integration: string; period: ReportPeriod; startMs: number; endMs: number },
  counts: ClientErrorCounts,
): ClientErrorReport {
  const head = {
    integration: window.integration,
    period: window.period,
    start: new Date(window.startMs).toISOString(),
    end: new Date(window.endMs).toISOString(),
    source: counts.source,
  };
  if (counts.source !== 'prometheus') {
    return { ...head, note: counts.reason, responses: 0, clientErrors: 0, ratio: null, endpoints: [], topReasons: [] };
  }
  const byEndpoint = new Map<string, ResponseCount[]>();
  for (const c of counts.counts) byEndpoint.set(c.endpoint, [...(byEndpoint.get(c.endpoint) ?? []), c]);
  const endpoints: EndpointReport[] = [...byEndpoint.entries()].map(([endpoint, rows]) => {
    const responses = sum(rows);
    const errors = rows.filter(isClientError);
    const statuses = new Map<number, number>();
    for (const r of errors) statuses.set(r.status, (statuses.get(r.status) ?? 0) + r.count);
    return {
      endpoint,
      responses,
      clientErrors: sum(errors),
      ratio: responses > 0 ? sum(errors) / responses : 0,
      byStatus: [...statuses.entries()]
        .map(([status, count]) => ({ status, count }))
        .sort((a, b) => b.count - a.count || a.status - b.status),
    };
  });
  endpoints.sort((a, b) => b.clientErrors - a.clientErrors || a.endpoint.localeCompare(b.endpoint));
  const reasons = new Map<string, Reason>();
  for (const c of counts.counts.filter(isClientError)) {
    const key = `${c.status} ${c.outcome}`;
    const reason = reasons.get(key) ?? { status: c.status, outcome: c.outcome, count: 0, endpoints: [] };
    reason.count += c.count;
    if (!reason.endpoints.includes(c.endpoint)) reason.endpoints.push(c.endpoint);
    reasons.set(key, reason);
  }
  const topReasons = [...reasons.values()]
    .map((r) => ({ ...r, endpoints: [...r.endpoints].sort() }))
    .sort((a, b) => b.count - a.count || a.status - b.status || a.outcome.localeCompare(b.outcome))
    .slice(0, TOP_REASONS);
  const responses = sum(counts.counts);
  const clientErrors = sum(counts.counts.filter(isClientError));
  return {
    ...head,
    ...(responses === 0 ? { note: 'no provider answered in this window' } : {}),
    responses,
    clientErrors,
    ratio: responses > 0 ? clientErrors / responses : null,
    endpoints,
    topReasons,
  };
}

/** The report as the Temporal UI shows it (the workflow's current details). */
export function clientErrorMarkdown(report: ClientErrorReport): string {
  const lines = [`## 4xx report: ${report.integration}, ${report.period}`, `${report.start} to ${report.end}`, ''];
  if (report.source !== 'prometheus') {
    lines.push(`**No counts**: ${report.note ?? report.source}`);
    return lines.join('\n');
  }
  lines.push(`**${report.clientErrors}** of ${report.responses} answers were 4xx (${percent(report.ratio)}).`, '');
  if (report.endpoints.length > 0) {
    lines.push('| endpoint | answers | 4xx | share | by status |', '| --- | ---: | ---: | ---: | --- |');
    for (const e of report.endpoints)
      lines.push(
        `| ${e.endpoint} | ${e.responses} | ${e.clientErrors} | ${percent(e.ratio)} | ${
          e.byStatus.map((s) => `${s.status}: ${s.count}`).join(', ') || '-'
        } |`,
      );
    lines.push('');
  }
  if (report.topReasons.length > 0) {
    lines.push('**Top reasons**', '');
    for (const r of report.topReasons) lines.push(`- ${r.status} ${r.outcome}: ${r.count} (${r.endpoints.join(', ')})`);
  } else if (report.note) lines.push(report.note);
  return lines.join('\n');
}

function sum(rows: readonly { count: number }[]): number {
  return rows.reduce((total, r) => total + r.count, 0);
}

function percent(ratio: number | null): string {
  return ratio === null ? 'no answers' : `${(ratio * 100).toFixed(ratio > 0 && ratio < 0.001 ? 3 : 1)} %`;
}
