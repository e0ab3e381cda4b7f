import { randomBytes } from 'node:crypto';
import type { ApplicationFailure } from '@temporalio/common';
import { payments } from '../../src/integrations/payments/payments.integration';
import { IntegrationEngine } from '../../src/integrations/runtime/engine';
import type { chargePayment } from '../../src/workflows/charge-payment.workflow';
import { WORKFLOWS_TASK_QUEUE } from '../../src/contracts/task-queues';
import { captureLogs } from '../support/log-capture';
import { sandboxAdmin } from '../support/sandbox';
import { uniqueId, withWorkers } from '../support/temporal';

/**
 * Canary values pushed through every path a call can take, errors included: none may appear in any
 * captured log line, failure message or workflow history.
 */
const canary = (label: string) => `${label}-canary-${randomBytes(8).toString('hex')}`;

describe('secrets and PII never reach logs or histories', () => {
  const piiCanary = canary('customer');
  const capture = captureLogs();
  const runtime = new IntegrationEngine({ logger: capture.logger });
  const failures: string[] = [];
  const attempt = async (fn: () => Promise<unknown>) => {
    try {
      await fn();
    } catch (err) {
      const f = err as ApplicationFailure;
      failures.push(`${f.type}: ${f.message} ${JSON.stringify(f.details)}`);
    }
  };
  const charge = (key: string) =>
    runtime.call(
      payments,
      'createPayment',
      { key, body: { amount: 100, currency: 'EUR', orderId: key, customerRef: piiCanary } },
      { attempt: 1 },
    );

  afterEach(() => sandboxAdmin.clearFaults());
  afterAll(() => runtime.close());

  it('keeps the client secret, the access token and PII out of every log line and failure', async () => {
    await charge(uniqueId('ok'));
    for (const fault of ['malformed-json', 'schema-violation', 'html-error', 'error-payload', 'oversized']) {
      await sandboxAdmin.fault({ method: 'POST', path: '/payments/payments', fault, times: 1 });
      await attempt(() => charge(uniqueId(fault)));
    }
    for (const code of [401, 422, 500, 503]) {
      await sandboxAdmin.fault({
        method: 'POST',
        path: '/payments/payments',
        fault: 'status',
        params: { code },
        times: 1,
      });
      await attempt(() => charge(uniqueId(`status-${code}`)));
    }
    await sandboxAdmin.fault({ method: 'POST', path: '/payments/payments', fault: 'commit-then-reset', times: 1 });
    await attempt(() => charge(uniqueId('reset')));

    const wrongSecret = canary('client-secret');
    const rejected = new IntegrationEngine({
      logger: capture.logger,
      env: { ...process.env, PAYMENTS_CLIENT_SECRET: wrongSecret },
    });
    await attempt(() => rejected.call(payments, 'hello', {}, { attempt: 1 }));
    const unreachable = new IntegrationEngine({
      logger: capture.logger,
      env: { ...process.env, PAYMENTS_URL: 'http://127.0.0.1:9/payments', PAYMENTS_CLIENT_SECRET: wrongSecret },
    });
    await attempt(() => unreachable.call(payments, 'hello', {}, { attempt: 1 }));
    await Promise.all([rejected.close(), unreachable.close()]);

    const tokens = [...runtime.secrets.knownSecrets()].filter((s) => s !== process.env.PAYMENTS_CLIENT_SECRET);
    expect(tokens.length).toBeGreaterThan(0); // the access token the runtime fetched and used
    const canaries = [process.env.PAYMENTS_CLIENT_SECRET!, wrongSecret, piiCanary, ...tokens];
    const everything = [...capture.lines(), ...failures].join('\n');

    expect(failures).toHaveLength(12);
    expect(capture.records().filter((r) => r.msg === 'integration call failed').length).toBeGreaterThanOrEqual(9);
    for (const value of canaries) expect(everything).not.toContain(value);
    expect(everything).toContain('[redacted]'); // the bodies were logged, with the canaries blanked out
  });

  it('keeps the access token and client secret out of the workflow history', async () => {
    const workflowId = uniqueId('canary-history');
    const history = await withWorkers(
      async ({ client }) => {
        await client.workflow.execute<typeof chargePayment>('chargePayment', {
          taskQueue: WORKFLOWS_TASK_QUEUE,
          workflowId,
          args: [{ orderId: workflowId, amount: 700, currency: 'EUR' }],
        });
        return JSON.stringify(await client.workflow.getHandle(workflowId).fetchHistory());
      },
      { runtime },
    );
    const secrets = [...runtime.secrets.knownSecrets()];
    expect(secrets.length).toBeGreaterThan(1);
    for (const value of secrets) expect(history).not.toContain(value);
  });
});
