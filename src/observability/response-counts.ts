import type { ClientErrorQuery, ResponseCount } from '../contracts/reports';

/**
 * Exact counts of provider answers in a window, from Prometheus (the system of record across every worker),
 * for the 4xx report (src/workflows/report-client-errors.workflow.ts).
 *
 * Why not `increase()`: it extrapolates to the window's edges (3 answers read as 3.07) and it misses the
 * first increment of every series, because prom-client creates a series at its first answer, already at
 * 1, and there is no earlier 0 to increase from; a 422 seen once a week would never be reported. Instead
 * each raw series (one per worker: `instance` is kept until the sum) is read at regular steps over the
 * window plus one step before it and at its end, and its increase is summed: a drop is a worker restart
 * (its counter started again from 0), and a series with no point before the window was born in it, so
 * its first value counts whole. What is lost: increments of a worker that restarted twice within a step.
 */

/** The metric the counts are read from (src/observability/metrics.ts). */
export const RESPONSES_METRIC = 'integration_http_responses_total';

/** Points per window: a daily report reads every 5 minutes, a weekly one every 35. */
const POINTS = 288;

export interface SeriesPoints {
  labels: Record<string, string>;
  /** `[epoch seconds, value]`, as Prometheus answers them. */
  points: [number, string][];
}

/** Step of the subquery: the window in {@link POINTS} steps, at least 1 s. */
export function stepSeconds(query: Pick<ClientErrorQuery, 'startMs' | 'endMs'>): number {
  return Math.max(1, Math.ceil((query.endMs - query.startMs) / 1000 / POINTS));
}

/** The PromQL of the window: the integration's series at every step, from one step before the window. */
export function windowQuery(query: ClientErrorQuery): string {
  const step = stepSeconds(query);
  const range = Math.ceil((query.endMs - query.startMs) / 1000) + step;
  return `${RESPONSES_METRIC}{integration="${escapeLabel(query.integration)}"}[${range}s:${step}s]`;
}

/** The latest value of each series at the window's end (the last step may be up to a step earlier). */
export function endQuery(query: ClientErrorQuery): string {
  return `${RESPONSES_METRIC}{integration="${escapeLabel(query.integration)}"}`;
}

/**
 * How much one counter series grew after `startSeconds`: a fall is a restart (the new value counts
 * whole); no point at or before the start means the series was born in the window (from 0).
 */
export function increaseAfter(points: readonly [number, string][], startSeconds: number): number {
  const sorted = [...points].map(([t, v]) => [t, Number(v)] as const).sort((a, b) => a[0] - b[0]);
  let previous = 0;
  for (const [t, v] of sorted) if (t <= startSeconds && Number.isFinite(v)) previous = v;
  let total = 0;
  for (const [t, v] of sorted) {
    if (t <= startSeconds || !Number.isFinite(v)) continue;
    total += v >= previous ? v - previous : v;
    previous = v;
  }
  return total;
}

/**
 * The window's counts by endpoint, status and outcome, summed over the workers. `window` is the subquery's
 * answer, `end` the instant one at the window's end (its points are added to their series).
 */
export function responseCounts(window: readonly SeriesPoints[], end: readonly SeriesPoints[], startMs: number) {
  const series = new Map<string, SeriesPoints>();
  for (const s of [...window, ...end]) {
    const key = labelKey(s.labels);
    const known = series.get(key);
    if (known) known.points = [...known.points, ...s.points];
    else series.set(key, { labels: s.labels, points: [...s.points] });
  }
  const counts = new Map<string, ResponseCount>();
  for (const { labels, points } of series.values()) {
    const count = Math.round(increaseAfter(dedupe(points), startMs / 1000));
    const status = Number(labels.status);
    if (count <= 0 || !labels.endpoint || !labels.outcome || !Number.isInteger(status)) continue;
    const key = `${labels.endpoint}\u0000${status}\u0000${labels.outcome}`;
    const known = counts.get(key);
    if (known) known.count += count;
    else counts.set(key, { endpoint: labels.endpoint, status, outcome: labels.outcome, count });
  }
  return [...counts.values()].sort(
    (a, b) => a.endpoint.localeCompare(b.endpoint) || a.status - b.status || a.outcome.localeCompare(b.outcome),
  );
}

/** The same timestamp twice (the end query at a step boundary) is one point. */
function dedupe(points: readonly [number, string][]): [number, string][] {
  const byTime = new Map<number, string>();
  for (const [t, v] of points) byTime.set(t, v);
  return [...byTime.entries()];
}

/** A series' identity; `__name__` left out (a subquery's answer may carry it where an instant one does not). */
function labelKey(labels: Record<string, string>): string {
  return JSON.stringify(
    Object.entries(labels)
      .filter(([name]) => name !== '__name__')
      .sort(([a], [b]) => a.localeCompare(b)),
  );
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}
