import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import type { ApplicationFailure } from '@temporalio/common';
import { parse, stringify } from 'yaml';
import { IntegrationsClient } from '../../src/client';
import { WORKFLOWS_TASK_QUEUE } from '../../src/contracts/task-queues';
import { parkedState, resolveParked } from '../../src/contracts/messages';
import { ControlPlane } from '../../src/control/control-plane';
import { controlWorkflowId, forceBreaker } from '../../src/control/messages';
import { startService, type ServiceProcess } from '../../src/devserver/service-process';
import { payments } from '../../src/integrations/payments/payments.integration';
import { IntegrationEngine } from '../../src/integrations/runtime/engine';
import type { chargePayment } from '../../src/workflows/charge-payment.workflow';
import { startPrometheus, type PrometheusServer } from '../observability/prometheus';
import { captureLogs } from '../support/log-capture';
import { sandboxAdmin } from '../support/sandbox';
import { TMP_DIR } from '../support/stack';
import { testEnv, uniqueId } from '../support/temporal';
import { waitFor } from '../support/wait';

const rulesFile = join(__dirname, '..', '..', 'observability', 'alerts.rules.yml');

/**
 * The project's rules with shorter `for:` durations (the expressions are the real ones), so the breaker
 * alert goes pending and firing within seconds instead of minutes.
 */
function testRules(dir: string): string {
  const rules = parse(readFileSync(rulesFile, 'utf8')) as { groups: { rules: { alert?: string; for?: string }[] }[] };
  for (const group of rules.groups) for (const rule of group.rules) if (rule.for) rule.for = '3s';
  const path = join(dir, `alerts-short-for-${process.pid}.rules.yml`);
  writeFileSync(path, stringify(rules));
  return path;
}

const scrape = async (url: string) => (await fetch(url, { signal: AbortSignal.timeout(10_000) })).text();

/** The value of one series in a Prometheus text scrape, e.g. `integration_calls_total{integration="payments",...}`. */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const ok = Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`));
    if (ok) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

describe('metrics of a real worker process, scraped by a real Prometheus', () => {
  const logs = join(TMP_DIR, 'logs');
  let worker: ServiceProcess;
  let metricsUrl: string;
  let prometheus: PrometheusServer;
  let connection: Connection;
  let client: Client;

  beforeAll(async () => {
    mkdirSync(logs, { recursive: true });
    // The worker exactly as production runs it (src/workers/main.ts); its ready line names its metrics URL.
    worker = startService({
      name: 'worker-metrics',
      entry: 'src/workers/main.ts',
      env: { ...process.env, TEMPORAL_ADDRESS: testEnv.temporalAddress, LOG_LEVEL: 'info' },
      logFile: join(logs, `worker-metrics-${process.pid}.log`),
      readyEvent: 'worker.ready',
      // It bundles the workflows at start: a minute or more on two shared, busy cores.
      readyTimeoutMs: 240_000,
    });
    const ready = await worker.ready;
    metricsUrl = String(ready.metrics);
    // Installs Debian's prometheus package first when it is missing (scripts/ensure-prometheus.ts).
    prometheus = await startPrometheus({
      targets: [metricsUrl],
      ruleFiles: [testRules(TMP_DIR)],
      logFile: join(logs, `prometheus-${process.pid}.log`),
    });
    connection = await Connection.connect({ address: testEnv.temporalAddress });
    client = new Client({ connection });
    // Scraped at least once before anything happens, as in production: an alert on increase() needs the
    // counter's 0 before its first increment.
    await waitFor(
      'Prometheus to scrape the worker',
      async () => (await prometheus.query('integration_credentials_rejected_total{integration="email"}')).length > 0,
      60_000,
      250,
    );
  }, 420_000); // a fresh machine installs Debian's prometheus package first

  afterAll(async () => {
    await sandboxAdmin.clearFaults();
    await prometheus?.stop();
    await worker?.stop();
    await connection?.close();
  });

  it('serves the SDK’s metrics and each call’s, with real values and bounded labels', async () => {
    const orderId = uniqueId('metrics-charge');
    await client.workflow.execute<typeof chargePayment>('chargePayment', {
      taskQueue: WORKFLOWS_TASK_QUEUE,
      workflowId: orderId,
      args: [{ orderId, amount: 1200, currency: 'EUR' }],
    });
    let text = '';
    await waitFor(
      'the charge and the SDK’s activity metrics in the scrape',
      async () => {
        text = await scrape(metricsUrl);
        writeFileSync(join(TMP_DIR, 'metrics-scrape.txt'), text);
        return (
          (sample(text, 'integration_calls_total', {
            integration: 'payments',
            endpoint: 'createPayment',
            outcome: 'ok',
          }) ?? 0) >= 1 && text.includes('task_queue="integration-payments"')
        );
      },
      30_000,
      250,
    );
    expect(sample(text, 'temporal_core_metrics_up', {})).toBe(1);
    expect(
      sample(text, 'integration_attempt_duration_seconds_count', {
        integration: 'payments',
        endpoint: 'createPayment',
        outcome: 'ok',
      }),
    ).toBeGreaterThanOrEqual(1);
    expect(
      sample(text, 'integration_requests_sent_total', { integration: 'payments', endpoint: 'createPayment' }),
    ).toBeGreaterThanOrEqual(1);
    // The step end to end, recorded by the workflow (runStep) through its metric meter and Core's exporter,
    // with the buckets of src/contracts/workflow-metrics.ts.
    await waitFor(
      'the step’s end-to-end histogram in the scrape',
      async () => {
        text = await scrape(metricsUrl);
        const labels = { integration: 'payments', endpoint: 'createPayment', outcome: 'ok' };
        return (sample(text, 'integration_step_duration_seconds_count', labels) ?? 0) >= 1;
      },
      30_000,
      250,
    );
    const stepLabels = { integration: 'payments', endpoint: 'createPayment', outcome: 'ok' };
    expect(
      sample(text, 'integration_step_duration_seconds_bucket', { ...stepLabels, le: '86400' }),
    ).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'integration_step_duration_seconds_sum', stepLabels)).toBeGreaterThan(0);
    expect(text).toMatch(/integration_step_duration_seconds_bucket\{[^}]*workflowType="chargePayment"/);
    // No workflow ID, idempotency key or amount in any label.
    expect(text).not.toContain(orderId);
    const labelValues = [...text.matchAll(/="([^"]*)"/g)].map((m) => m[1]);
    expect(labelValues.filter((v) => v === '1200' || v?.includes('metrics-charge'))).toEqual([]);
    // Prometheus scrapes it (every second).
    await waitFor(
      'Prometheus to have scraped the charge',
      async () => {
        const series = await prometheus.query(
          'sum by (integration) (integration_calls_total{integration="payments",outcome="ok"})',
        );
        return Number(series[0]?.value[1]) >= 1;
      },
      30_000,
      250,
    );
    expect((await prometheus.targets()).find((t) => t.scrapeUrl === metricsUrl)?.health).toBe('up');
  }, 90_000);

  it('a breaker opened by provider failures makes its alert go pending, then firing', async () => {
    // Ten 503s from the sandbox, seen by an engine in this process reporting to the shared breaker.
    const control = new ControlPlane({ client, logger: captureLogs().logger });
    const runtime = new IntegrationEngine({ logger: captureLogs().logger, control });
    const alertOf = async () =>
      (await prometheus.alerts()).find(
        (a) => a.labels.alertname === 'IntegrationBreakerOpen' && a.labels.integration === 'payments',
      );
    const seen: string[] = [];
    try {
      await sandboxAdmin.fault({
        method: 'GET',
        path: '/payments/hello',
        fault: 'status',
        params: { code: 503 },
        times: 10,
      });
      for (let i = 0; i < 10; i++) {
        await runtime
          .call(payments, 'hello', {}, { attempt: 1 })
          .catch((err: ApplicationFailure) => expect(err.type).toBe('ServerError'));
      }
      await control.flush();
      await waitFor(
        'the alert to go pending or firing',
        async () => {
          const alert = await alertOf();
          if (alert && !seen.includes(alert.state)) seen.push(alert.state);
          return alert !== undefined;
        },
        60_000,
        100,
      );
      await waitFor(
        'the alert to fire',
        async () => {
          const alert = await alertOf();
          if (alert && !seen.includes(alert.state)) seen.push(alert.state);
          return alert?.state === 'firing';
        },
        60_000,
        250,
      );
      const firing = await alertOf();
      console.log(`IntegrationBreakerOpen seen as ${seen.join(' -> ')}: ${JSON.stringify(firing)}`);
      expect(seen[0]).toBe('pending'); // `for:` holds it pending first
      expect(seen).toContain('firing');
      const state = await prometheus.query(
        'max by (integration, state) (integration_breaker_state{integration="payments"}) == 1',
      );
      expect(state.map((s) => s.metric.state)).toEqual(['open']);
    } finally {
      await client.workflow
        .getHandle(controlWorkflowId('payments'))
        .executeUpdate(forceBreaker, { args: [{ mode: 'auto', reason: 'test cleanup' }] })
        .catch(() => undefined);
      await sandboxAdmin.clearFaults();
      await control.close();
      await runtime.close();
    }
    // Closed again: the alert resolves.
    await waitFor('the alert to resolve', async () => (await alertOf()) === undefined, 60_000, 250);
  }, 180_000);

  it('a parked order shows in the parked gauge and the credentials alert, and the gauge falls when resolved', async () => {
    const orders = await IntegrationsClient.connect({ address: testEnv.temporalAddress });
    const orderId = uniqueId('metrics-parked');
    const parked = () =>
      prometheus
        .query('max by (integration) (integration_parked_workflows{integration="email"})')
        .then((r) => Number(r[0]?.value[1] ?? NaN));
    try {
      const before = await parked();
      await sandboxAdmin.fault({ method: 'POST', path: '/email/send', fault: 'status', params: { code: 401 } });
      const { workflowId } = await orders.startOrder({
        orderId,
        customerId: 'cus_0011',
        amount: 2100,
        currency: 'EUR',
      });
      const order = client.workflow.getHandle(workflowId);
      await waitFor('the order to park', async () => (await order.query(parkedState)) !== null, 60_000, 250);
      await waitFor('the parked gauge to count it', async () => (await parked()) >= (before || 0) + 1, 90_000, 500);
      await waitFor(
        'the credentials alert to fire',
        async () =>
          (await prometheus.alerts()).some(
            (a) =>
              a.labels.alertname === 'IntegrationCredentialsRejected' &&
              a.labels.integration === 'email' &&
              a.state === 'firing',
          ),
        60_000,
        250,
      );
      // The workflow's own counter (park.ts, through the workflow metric meter and Core's exporter).
      writeFileSync(join(TMP_DIR, 'metrics-scrape-parked.txt'), await scrape(metricsUrl));
      await waitFor(
        'the workflows’ parked counter in Prometheus',
        async () => {
          const counted = await prometheus.query(
            'sum by (integration, failure_type) (integration_parked_total{integration="email"})',
          );
          return Number(counted[0]?.value[1]) >= 1 && counted[0]?.metric.failure_type === 'Unauthorized';
        },
        30_000,
        250,
      );
      const peak = await parked();
      await sandboxAdmin.clearFaults();
      await order.executeUpdate(resolveParked, { args: [{ action: 'retry' }] });
      await waitFor('the parked gauge to fall', async () => (await parked()) < peak, 90_000, 500);
    } finally {
      await sandboxAdmin.clearFaults();
      await orders.close();
    }
  }, 240_000);
});
