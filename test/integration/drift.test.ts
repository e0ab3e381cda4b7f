import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { WorkflowFailedError } from '@temporalio/client';
import { IntegrationsClient } from '../../src/client';
import { judge, loadFixtures } from '../../src/cli/drift-fixtures';
import { orderWorkflowId } from '../../src/contracts/messages';
import { WORKFLOWS_TASK_QUEUE } from '../../src/contracts/task-queues';
import { integrations } from '../../src/integrations';
import { crm } from '../../src/integrations/crm/crm.integration';
import { FileDriftStore } from '../../src/integrations/runtime/drift-store';
import { IntegrationEngine } from '../../src/integrations/runtime/engine';
import { WorkerMetrics } from '../../src/observability/metrics';
import { fakeCustomer } from '../../src/sandbox/crm';
import type { syncCrmCustomers } from '../../src/workflows/sync-crm.workflow';
import { captureLogs } from '../support/log-capture';
import { sandboxAdmin } from '../support/sandbox';
import { testEnv, uniqueId, withWorkers } from '../support/temporal';

/**
 * Drift against the real parts: workflows on the dev server, activities calling the sandbox, which
 * changes its answers the way providers do without notice (fault `drift`). Each drifting answer is
 * counted in the worker's Prometheus registry and kept as a redacted sample; `npm run drift --
 * fixtures` turns the samples into fixtures the replay test loads.
 */

const run = promisify(execFile);
const root = join(__dirname, '..', '..');
const dirs: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'drift-it-'));
  dirs.push(dir);
  return dir;
};
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
afterEach(() => sandboxAdmin.clearFaults());

/** Every file under a directory, as one text. */
function everything(dir: string): string {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => readFileSync(join(e.parentPath, e.name), 'utf8'))
    .join('\n');
}

/** A worker's engine as src/workers/main.ts builds it: Prometheus metrics and a drift sample store. */
function workerEngine() {
  const dir = tempDir();
  const logs = captureLogs();
  const metrics = new WorkerMetrics({ integrations: Object.values(integrations), processMetrics: false });
  const runtime = new IntegrationEngine({
    logger: logs.logger,
    metrics: metrics.calls,
    driftSamples: new FileDriftStore({ dir, perEndpoint: 5 }),
  });
  const drift = async (labels: string) => {
    const line = (await metrics.registry.metrics())
      .split('\n')
      .find((l) => l.startsWith(`integration_schema_drift_total{${labels}}`));
    return line === undefined ? undefined : Number(line.split(' ').pop());
  };
  return { dir, logs, runtime, drift, store: new FileDriftStore({ dir }) };
}

describe('drift against the sandbox', () => {
  it('counts a provider whose answers drift, keeps redacted samples, and makes fixtures of them', async () => {
    const { dir, logs, runtime, drift, store } = workerEngine();
    // The CRM renames `email` (its declared PII name) and turns `tier` into an object.
    await sandboxAdmin.fault({
      method: 'GET',
      path: '/crm/customers',
      exact: true,
      fault: 'drift',
      params: { rename: 'email:emailAddress', retype: 'tier' },
      times: 1,
    });
    const failed = await withWorkers(
      ({ client }) =>
        client.workflow
          .execute<typeof syncCrmCustomers>('syncCrmCustomers', {
            workflowId: uniqueId('drift-sync'),
            taskQueue: WORKFLOWS_TASK_QUEUE,
            args: [{ pageSize: 3 }],
          })
          .catch((err: unknown) => err),
      { runtime },
    );
    expect(failed).toBeInstanceOf(WorkflowFailedError);
    expect(await drift('integration="crm",endpoint="listCustomers",source="schema"')).toBe(1);

    const samples = await store.list();
    expect(samples).toHaveLength(1);
    const [sample] = samples;
    expect(sample).toMatchObject({ integration: 'crm', endpoint: 'listCustomers', version: 'v1', source: 'schema' });
    expect(sample!.issues).toEqual(
      expect.arrayContaining([
        { path: 'items.0.email', code: 'invalid_type' },
        { path: 'items.0.tier', code: 'invalid_value' },
      ]),
    );
    const items = (sample!.body as { items: Record<string, unknown>[] }).items;
    expect(items[0]).toEqual({
      id: 'cus_0001',
      name: '[redacted]',
      emailAddress: 'redacted@example.com',
      tier: { value: fakeCustomer('cus_0001').tier },
    });
    // Neither the names nor the addresses of the customers on the page reach the store or the logs.
    const pii = ['cus_0001', 'cus_0002', 'cus_0003'].flatMap((id) => [fakeCustomer(id).name, fakeCustomer(id).email]);
    const stored = everything(dir);
    const logged = logs.lines().join('\n');
    expect(pii.filter((v) => stored.includes(v) || logged.includes(v))).toEqual([]);
    expect(logged).toContain('schema drift: an answer failed its response schema');

    const out = tempDir();
    const { stdout } = await run(
      process.execPath,
      ['--import', 'tsx', 'src/cli/drift.ts', 'fixtures', '--samples', dir, '--out', out],
      { cwd: root },
    );
    expect(stdout).toContain('1 written');
    const fixtures = loadFixtures(out);
    expect(fixtures.map((f) => f.file)).toEqual([join(out, 'crm', 'listCustomers', `${sample!.id}.json`)]);
    const { fixture } = fixtures[0]!;
    expect(fixture).toMatchObject({ expect: 'fail', sample: sample!.id, body: sample!.body });
    expect(judge(integrations, fixture.integration, fixture.endpoint, fixture.body)).toEqual({
      known: true,
      pass: false,
      issues: fixture.issues,
    });
    const { stdout: listed } = await run(
      process.execPath,
      ['--import', 'tsx', 'src/cli/drift.ts', 'list', '--samples', dir],
      { cwd: root },
    );
    expect(listed).toContain('crm.listCustomers  schema  1 sample(s)');
    await runtime.close();
  });

  it('records a dark-launched version that disagrees with the primary as drift, redacted', async () => {
    const { runtime, drift, store } = workerEngine();
    const customerId = 'cus_0077';
    // v1 carries notes; v2 drops them (still valid for v2's schema, where notes are optional).
    await runtime.call(
      crm,
      'updateCustomer',
      { params: { id: customerId }, body: { notes: 'prefers email' }, key: uniqueId('drift-notes') },
      { attempt: 1 },
    );
    await sandboxAdmin.fault({
      method: 'GET',
      path: `/crm/v2/customers/${customerId}`,
      exact: true,
      fault: 'drift',
      params: { drop: 'notes' },
      times: 1,
    });
    const client = await IntegrationsClient.connect({ address: testEnv.temporalAddress });
    const orderId = uniqueId('drift-order');
    try {
      const memo = await withWorkers(
        async () => {
          await client.startOrder({
            orderId,
            customerId,
            amount: 500,
            currency: 'EUR',
            crmV2: { darkLaunch: true, canaryPercent: 0 },
          });
          expect((await client.orderResult(orderId)).stage).toBe('completed');
          return (await client.temporal.workflow.getHandle(orderWorkflowId(orderId)).describe()).memo;
        },
        { runtime },
      );
      expect(memo?.darkLaunch).toMatchObject({ 'crm.getCustomer v2': { matches: 0, mismatches: 1, failures: 0 } });
    } finally {
      await client.close();
    }
    expect(await drift('integration="crmv2",endpoint="getCustomer",source="dark_launch"')).toBe(1);
    const [sample, ...more] = await store.list({ integration: 'crmv2' });
    expect(more).toEqual([]);
    const { name, email } = fakeCustomer(customerId);
    expect(sample).toMatchObject({
      integration: 'crmv2',
      endpoint: 'getCustomer',
      version: 'v2',
      source: 'dark_launch',
      comparedWith: 'crm.getCustomer',
      differences: ['notes'],
      body: { apiVersion: 2, customer: { id: customerId, name: '[redacted]', email: 'redacted@example.com' } },
      primary: { id: customerId, name: '[redacted]', email: 'redacted@example.com', notes: 'prefers email' },
    });
    expect(JSON.stringify(sample)).not.toContain(name);
    expect(JSON.stringify(sample)).not.toContain(email);
    await runtime.close();
  });
});
