import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Client, Connection, WorkflowFailedError } from '@temporalio/client';
import { WORKFLOWS_TASK_QUEUE } from '../../src/contracts/task-queues';
import { clientErrorScheduleId } from '../../src/contracts/reports';
import { startService, type ServiceProcess } from '../../src/devserver/service-process';
import { freeLoopbackAddress } from '../../src/workers/runtime';
import type { chargePayment } from '../../src/workflows/charge-payment.workflow';
import type {
  ClientErrorReport,
  ClientErrorSummary,
  reportClientErrors,
  reportIntegrationClientErrors,
} from '../../src/workflows/report-client-errors.workflow';
import { startPrometheus, type PrometheusServer } from '../observability/prometheus';
import { sandboxAdmin } from '../support/sandbox';
import { TMP_DIR } from '../support/stack';
import { testEnv, uniqueId } from '../support/temporal';
import { waitFor } from '../support/wait';

/**
 * The daily 4xx report end to end: a real worker (src/workers/main.ts) creates the Schedules at start and
 * serves the report's queue; a real Prometheus scrapes it; the sandbox answers some charges 422; the
 * test triggers `client-errors-daily` and reads the payments report the schedule's run produced.
 */
describe('the 4xx report, from a real Prometheus scraping a real worker', () => {
  const logs = join(TMP_DIR, 'logs');
  let worker: ServiceProcess;
  let prometheus: PrometheusServer;
  let connection: Connection;
  let client: Client;

  beforeAll(async () => {
    mkdirSync(logs, { recursive: true });
    // The worker's operations port is chosen first: Prometheus scrapes it, the worker queries Prometheus.
    const ops = await freeLoopbackAddress();
    const metricsUrl = `http://${ops}/metrics`;
    prometheus = await startPrometheus({
      targets: [metricsUrl],
      ruleFiles: [],
      logFile: join(logs, `prometheus-report-${process.pid}.log`),
    });
    worker = startService({
      name: 'worker-report',
      entry: 'src/workers/main.ts',
      env: {
        ...process.env,
        TEMPORAL_ADDRESS: testEnv.temporalAddress,
        WORKER_OPS_PORT: ops.split(':')[1],
        PROMETHEUS_URL: prometheus.url,
        LOG_LEVEL: 'info',
      },
      logFile: join(logs, `worker-report-${process.pid}.log`),
      readyEvent: 'worker.ready',
      // It bundles the workflows at start: a minute or more on two shared, busy cores.
      readyTimeoutMs: 240_000,
    });
    await worker.ready;
    connection = await Connection.connect({ address: testEnv.temporalAddress });
    client = new Client({ connection });
    await waitFor(
      'Prometheus to scrape the worker',
      async () => (await prometheus.targets()).some((t) => t.scrapeUrl === metricsUrl && t.health === 'up'),
      60_000,
      250,
    );
  }, 420_000);

  afterAll(async () => {
    await sandboxAdmin.clearFaults();
    await prometheus?.stop();
    await worker?.stop();
    await connection?.close();
  });

  it('counts the 422s of createPayment by status and reason, in a report the daily schedule starts', async () => {
    // The worker created (or updated) both schedules at start.
    const daily = client.schedule.getHandle(clientErrorScheduleId('daily'));
    expect((await daily.describe()).action).toMatchObject({ workflowType: 'reportClientErrors' });
    await client.schedule.getHandle(clientErrorScheduleId('weekly')).describe();

    await sandboxAdmin.fault({
      method: 'POST',
      path: '/payments/payments',
      fault: 'status',
      params: { code: 422 },
      times: 2,
    });
    const charge = (orderId: string) =>
      client.workflow.execute<typeof chargePayment>('chargePayment', {
        taskQueue: WORKFLOWS_TASK_QUEUE,
        workflowId: orderId,
        args: [{ orderId, amount: 1500, currency: 'EUR' }],
      });
    for (let i = 0; i < 2; i++) {
      await expect(charge(uniqueId('report-refused'))).rejects.toBeInstanceOf(WorkflowFailedError);
    }
    await charge(uniqueId('report-ok'));
    // Prometheus has the worker's last values before the report asks it.
    await waitFor(
      'Prometheus to hold the 422s and the charge that went through',
      async () => {
        const [refused] = await prometheus.query(
          'sum(integration_http_responses_total{integration="payments",endpoint="createPayment",status="422"})',
        );
        const [ok] = await prometheus.query(
          'sum(integration_http_responses_total{integration="payments",endpoint="createPayment",outcome="ok"})',
        );
        return Number(refused?.value[1]) === 2 && Number(ok?.value[1]) >= 1;
      },
      60_000,
      250,
    );

    // The window ends at the trigger (to the second) and counts only samples scraped by then: let the scrape
    // that holds the values fall two seconds inside it.
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const before = (await daily.describe()).info.recentActions.length;
    await daily.trigger();
    let runId = '';
    let workflowId = '';
    await waitFor(
      'the schedule to start its run',
      async () => {
        const actions = (await daily.describe()).info.recentActions;
        const last = actions[actions.length - 1];
        if (actions.length <= before || !last) return false;
        ({ workflowId, firstExecutionRunId: runId } = last.action.workflow);
        return true;
      },
      60_000,
      250,
    );
    expect(workflowId.startsWith('client-errors-daily-')).toBe(true);
    const summary: ClientErrorSummary = await client.workflow
      .getHandle<typeof reportClientErrors>(workflowId, runId)
      .result();
    const line = summary.reports.find((r) => r.integration === 'payments');
    expect(line).toMatchObject({ source: 'prometheus', clientErrors: 2 });
    expect(line?.workflowId).toMatch(/^client-errors-daily-payments-\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    console.log(`4xx report summary: ${JSON.stringify(summary)}`);

    const reportHandle = client.workflow.getHandle<typeof reportIntegrationClientErrors>(line!.workflowId);
    const report: ClientErrorReport = await reportHandle.result();
    const createPayment = report.endpoints.find((e) => e.endpoint === 'createPayment');
    expect(createPayment?.clientErrors).toBe(2);
    expect(createPayment?.responses).toBeGreaterThanOrEqual(3);
    expect(createPayment?.byStatus).toEqual([{ status: 422, count: 2 }]);
    expect(report.topReasons[0]).toEqual({
      status: 422,
      outcome: 'RequestRejected',
      count: 2,
      endpoints: ['createPayment'],
    });
    // Kept where an operator finds it: the memo (and the details panel) of a workflow named after it.
    const described = await reportHandle.describe();
    expect(described.memo?.clientErrors).toEqual(report);
    expect(described.typedSearchAttributes.get({ name: 'IntegrationName', type: 'KEYWORD' })).toBe('payments');
    console.log(`4xx report of payments: ${JSON.stringify(report)}`);
  }, 240_000);
});
