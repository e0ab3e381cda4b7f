import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { ensurePrometheus } from '../../scripts/ensure-prometheus';
import { integrations } from '../../src/integrations';
import { WorkerMetrics, codecMetrics, processRegistry, webhookMetrics } from '../../src/observability/metrics';

/**
 * The Grafana dashboard (observability/grafana/integrations.json), checked statically: it parses, it has
 * the status page's panels, every query is valid PromQL (promtool) and names only metrics that exist.
 */

const file = join(__dirname, '..', '..', 'observability', 'grafana', 'integrations.json');
const dashboard = JSON.parse(readFileSync(file, 'utf8')) as {
  panels: { title: string; targets: { expr: string }[] }[];
  templating: { list: { name: string }[] };
};
const exprs = dashboard.panels.flatMap((p) => p.targets.map((t) => ({ panel: p.title, expr: t.expr })));

/**
 * Metrics that come from Temporal Core's exporter, not from a prom-client registry: the counters workflows
 * create through their metric meter (src/workflows/patterns/*.ts) and the SDK's own, which the dashboard uses.
 */
const coreMetrics = [
  'integration_budget_alert_total',
  'integration_parked_total',
  'dark_launch_comparisons_total',
  'temporal_activity_schedule_to_start_latency_seconds_bucket',
  'temporal_activity_execution_latency_seconds_bucket',
  'temporal_workflow_task_schedule_to_start_latency_seconds_bucket',
  'temporal_worker_task_slots_available',
];

async function knownMetrics(): Promise<Set<string>> {
  const worker = new WorkerMetrics({
    integrations: Object.values(integrations),
    countParked: () => Promise.resolve(0),
    processMetrics: false,
  });
  const other = processRegistry({ processMetrics: false });
  webhookMetrics(other);
  codecMetrics(other);
  const names = new Set(coreMetrics);
  for (const registry of [worker.registry, other])
    for (const m of await registry.getMetricsAsJSON()) {
      names.add(m.name);
      if (String(m.type) === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(`${m.name}${s}`);
    }
  return names;
}

const keywords = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'bool',
  'and',
  'or',
  'unless',
  'offset',
]);

/** The metric names an expression selects: identifiers that are neither functions, keywords, labels nor values. */
function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  return [...stripped.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*(?!\s*\(|[A-Za-z0-9_:])/g)]
    .map((m) => m[0])
    .filter((t) => !keywords.has(t) && !/^\d/.test(t));
}

describe('the Grafana dashboard (observability/grafana/integrations.json)', () => {
  it('has the status page’s panels, each with a query, and an integration variable', () => {
    const titles = dashboard.panels.map((p) => p.title.toLowerCase()).join(' | ');
    for (const panel of [
      'status per integration',
      'call rate',
      'error rate',
      'p50 / p99',
      'breaker',
      'kill switches',
      'parked',
      'rate limit',
      'cost',
      'webhooks',
    ])
      expect({ panel, present: titles.includes(panel) }).toEqual({ panel, present: true });
    for (const p of dashboard.panels)
      expect({ panel: p.title, queries: p.targets.length > 0 }).toEqual({ panel: p.title, queries: true });
    expect(dashboard.templating.list.map((v) => v.name)).toEqual(['datasource', 'integration']);
  });

  it('names only metrics the project exports', async () => {
    const known = await knownMetrics();
    expect(known.has('integration_calls_total')).toBe(true);
    const unknown = exprs.flatMap(({ panel, expr }) =>
      metricNames(expr)
        .filter((n) => !known.has(n))
        .map((n) => `${panel}: ${n}`),
    );
    expect(unknown).toEqual([]);
    // The extraction itself: a name inside a matcher, a function or a by-list is not a metric.
    expect(
      metricNames(
        'histogram_quantile(0.99, sum by (integration, le) (rate(x_bucket{a="b"}[5m]))) > bool 0.2 or on (i) y',
      ),
    ).toEqual(['x_bucket', 'y']);
  });

  it('holds valid PromQL (promtool check rules, with $integration as .*)', () => {
    const { promtool } = ensurePrometheus();
    const dir = mkdtempSync(join(tmpdir(), 'grafana-promql-'));
    const rules = {
      groups: [
        {
          name: 'dashboard',
          rules: exprs.map(({ expr }, i) => ({
            record: `dashboard:query_${i}`,
            expr: expr.replaceAll('$integration', '.*'),
          })),
        },
      ],
    };
    writeFileSync(join(dir, 'dashboard.rules.yml'), stringify(rules));
    let out: string;
    try {
      out = execFileSync(promtool, ['check', 'rules', 'dashboard.rules.yml'], {
        cwd: dir,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string };
      throw new Error(`promtool refused a dashboard query:\n${e.stdout ?? ''}${e.stderr ?? ''}`);
    }
    expect(out).toContain(`SUCCESS: ${exprs.length} rules found`);
  }, 300_000);
});
