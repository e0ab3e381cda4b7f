import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Client, WorkflowHandle } from '@temporalio/client';
import {
  BulkResolveRequestError,
  bulkResolveProgress,
  cancelBulkResolve,
  startBulkResolve,
  type BulkResolveProgress,
  type BulkResolveRequest,
} from '../../src/client/bulk-resolve';
import { OpsUsageError, parseOpsArgs } from '../../src/cli/ops-args';
import { parkedState } from '../../src/contracts/messages';
import { IntegrationName, NeedsAttention } from '../../src/contracts/search-attributes';
import type { ServiceProcess } from '../../src/devserver/service-process';
import type { listedButNotParked, parkedForBulk } from './bulk-test.workflows';
import { workerProcess } from '../support/worker-process';
import { testEnv, uniqueId, withWorkers } from '../support/temporal';
import { waitFor } from '../support/wait';

const taskQueue = 'bulk-resolve-tests';
const testWorkflows = { path: require.resolve('./bulk-test.workflows'), taskQueue };

/** Starts `n` workflows that park on their own integration name, and waits until visibility lists them all. */
async function parkMany(
  client: Client,
  integration: string,
  n: number,
  canCompensate = false,
): Promise<WorkflowHandle<typeof parkedForBulk>[]> {
  const handles: WorkflowHandle<typeof parkedForBulk>[] = [];
  for (let i = 0; i < n; i += 50) {
    handles.push(
      ...(await Promise.all(
        Array.from({ length: Math.min(50, n - i) }, (_, k) =>
          client.workflow.start<typeof parkedForBulk>('parkedForBulk', {
            taskQueue,
            workflowId: `${integration}-${canCompensate ? 'c' : 'n'}-${i + k}`,
            args: [{ integration, canCompensate }],
          }),
        ),
      )),
    );
  }
  return handles;
}

const queryFor = (integration: string) => `NeedsAttention = true AND IntegrationName = '${integration}'`;

async function waitListed(client: Client, integration: string, n: number): Promise<void> {
  await waitFor(
    `visibility to list ${n} parked workflows`,
    async () => (await client.workflow.count(queryFor(integration))).count === n,
    120_000,
    250,
  );
}

function request(integration: string, overrides: Partial<BulkResolveRequest> = {}): BulkResolveRequest {
  return {
    query: queryFor(integration),
    decision: { action: 'retry' },
    ratePerSecond: 50,
    reason: 'test: provider back',
    requestedBy: 'bulk-test',
    ...overrides,
  };
}

/** Follows a job as the CLI does, recording every `processed` it saw, until it ends. */
async function follow(client: Client, id: string, seen: number[] = []): Promise<BulkResolveProgress> {
  let last: BulkResolveProgress | undefined;
  await waitFor(
    'the bulk resolution to end',
    async () => {
      last = await bulkResolveProgress(client, id).catch(() => undefined);
      if (last && seen[seen.length - 1] !== last.processed) seen.push(last.processed);
      return last?.state === 'completed' || last?.state === 'cancelled';
    },
    240_000,
    100,
  );
  return last!;
}

describe('bulk resolution of parked workflows on the real dev server', () => {
  it('resolves 200 parked workflows with one decision, reporting progress as it goes', async () => {
    const integration = uniqueId('bulk200');
    await withWorkers(
      async ({ client }) => {
        const handles = await parkMany(client, integration, 200);
        await waitListed(client, integration, 200);
        // Each parked workflow says since when: ParkedAt, what IntegrationParkedTooLong counts.
        const described = await handles[0]!.describe();
        expect(described.typedSearchAttributes.get(NeedsAttention)).toBe(true);
        expect((described.searchAttributes.ParkedAt as Date[] | undefined)?.length).toBe(1);

        const id = await startBulkResolve(client, request(integration));
        expect(id).toMatch(/^bulk-resolve-\d{8}T\d{6}Z-[0-9a-f]{8}$/);
        const seen: number[] = [];
        const final = await follow(client, id, seen);
        expect(final).toMatchObject({
          state: 'completed',
          matched: 200,
          processed: 200,
          resolved: 200,
          notParked: 0,
          alreadyDecided: 0,
          rejected: 0,
          failed: 0,
          ratePerSecond: 50,
        });
        // Progress rose through intermediate counts (4 windows of 50 a second) to 200.
        expect(seen.some((n) => n > 0 && n < 200)).toBe(true);
        expect(seen).toEqual([...seen].sort((a, b) => a - b));
        const results = await Promise.all(handles.map((h) => h.result()));
        expect(results.every((r) => r.action === 'retry')).toBe(true);
        await waitListed(client, integration, 0);
      },
      { testWorkflows },
    );
  }, 300_000);

  it('stops sending when cancelled and reports what was done; the rest stay parked', async () => {
    const integration = uniqueId('bulkcancel');
    await withWorkers(
      async ({ client }) => {
        const handles = await parkMany(client, integration, 30);
        await waitListed(client, integration, 30);
        const id = await startBulkResolve(client, request(integration, { ratePerSecond: 2 }));
        await waitFor(
          'a few to be resolved',
          async () => (await bulkResolveProgress(client, id)).processed >= 4,
          60_000,
          100,
        );
        await cancelBulkResolve(client, id);
        const final = (await client.workflow.getHandle(id).result()) as BulkResolveProgress;
        expect(final.state).toBe('cancelled');
        expect(final.processed).toBeLessThan(30);
        expect(final.resolved).toBe(final.processed);
        expect(await bulkResolveProgress(client, id)).toEqual(final);
        const stillParked = await Promise.all(handles.map(async (h) => (await h.query(parkedState)) !== null));
        expect(stillParked.filter(Boolean)).toHaveLength(30 - final.resolved);
      },
      { testWorkflows },
    );
  }, 180_000);

  it('counts refusals by the targets’ validators and targets not parked, and refuses a bad request before starting', async () => {
    // Refused before anything starts: skip needs the result every target continues with.
    const integration = uniqueId('bulkmixed');
    expect(() => parseOpsArgs(['resolve', '--query', queryFor(integration), '--action', 'skip'])).toThrow(
      OpsUsageError,
    );
    expect(() => parseOpsArgs(['resolve', '--query', queryFor(integration), '--action', 'skip'])).toThrow(
      /--action skip needs --result/,
    );
    expect(() => parseOpsArgs(['resolve', '--action', 'retry'])).toThrow(/--query is required/);
    expect(() => parseOpsArgs(['resolve', '--query', 'x', '--action', 'retry', '--rate', '500'])).toThrow(
      /--rate must be a number above 0 and at most 100/,
    );
    expect(parseOpsArgs(['progress', 'bulk-resolve-1'])).toEqual({ command: 'progress', workflowId: 'bulk-resolve-1' });
    await withWorkers(
      async ({ client }) => {
        await expect(
          startBulkResolve(client, request(integration, { decision: { action: 'skip' } as never })),
        ).rejects.toThrow(BulkResolveRequestError);
        // Three that can compensate, three that cannot (their validator refuses), one listed but not parked.
        await parkMany(client, integration, 3, true);
        await parkMany(client, integration, 3, false);
        const notParked = await client.workflow.start<typeof listedButNotParked>('listedButNotParked', {
          taskQueue,
          workflowId: `${integration}-not-parked`,
          typedSearchAttributes: [
            { key: NeedsAttention, value: true },
            { key: IntegrationName, value: integration },
          ],
        });
        await waitListed(client, integration, 7);
        const id = await startBulkResolve(client, request(integration, { decision: { action: 'compensate' } }));
        const final = await follow(client, id);
        expect(final).toMatchObject({
          state: 'completed',
          matched: 7,
          resolved: 3,
          rejected: 3,
          notParked: 1,
          failed: 0,
        });
        expect(final.rejections).toHaveLength(1); // distinct reasons only
        expect(final.rejections[0]!.reason).toMatch(/action must be one of retry, retryWithBudget, skip, fail/);
        await notParked.terminate('test done');
      },
      { testWorkflows },
    );
  }, 180_000);
});

/** `npm run ops -- …` as an operator runs it, against the test server. */
async function ops(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', 'src/cli/ops.ts', ...args],
      {
        cwd: join(__dirname, '..', '..'),
        env: { ...process.env, TEMPORAL_ADDRESS: testEnv.temporalAddress, USER: 'ops-test' },
      },
    );
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('npm run ops', () => {
  it('resolves from the terminal, printing progress until the job ends, and refuses bad arguments with what to type', async () => {
    const refused = await ops(['resolve', '--query', 'NeedsAttention = true', '--action', 'skip']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('--action skip needs --result');
    expect(refused.stderr).toContain('npm run ops -- resolve --query');
    const integration = uniqueId('bulkcli');
    await withWorkers(
      async ({ client }) => {
        const handles = await parkMany(client, integration, 5);
        await waitListed(client, integration, 5);
        const run = await ops(['resolve', '--query', queryFor(integration), '--action', 'retry', '--rate', '20']);
        expect(run.stderr).toBe('');
        expect(run.code).toBe(0);
        const id = /^started (bulk-resolve-\S+):/m.exec(run.stdout)?.[1];
        expect(id).toBeDefined();
        expect(run.stdout).toContain(`${id}: completed, 5/5 done: resolved 5, not parked 0`);
        const progress = await ops(['progress', id!]);
        expect(progress.stdout).toContain(`${id}: completed, 5/5 done`);
        const results = await Promise.all(handles.map((h) => h.result()));
        expect(results.map((r) => r.action)).toEqual(['retry', 'retry', 'retry', 'retry', 'retry']);
        expect(id).not.toContain(integration); // nothing of the query in the job's ID
      },
      { testWorkflows },
    );
  }, 180_000);
});

describe('a bulk resolution whose worker is killed', () => {
  it('is finished by another worker, and no target gets two decisions', async () => {
    const integration = uniqueId('bulkcrash');
    const first = workerProcess('bulk-worker-a');
    let second: ServiceProcess | undefined;
    try {
      await first.ready;
      // In this process: only the parked test workflows; the job and its activities run in the worker process.
      await withWorkers(
        async ({ client }) => {
          const handles = await parkMany(client, integration, 60);
          await waitListed(client, integration, 60);
          const id = await startBulkResolve(client, request(integration, { ratePerSecond: 10 }));
          await waitFor(
            'the job to be under way',
            async () => ((await bulkResolveProgress(client, id).catch(() => undefined))?.processed ?? 0) >= 10,
            120_000,
            50,
          );
          await first.kill(); // SIGKILL: the window in flight is lost with it
          second = workerProcess('bulk-worker-b');
          await second.ready;
          const final = await follow(client, id);
          expect(final.state).toBe('completed');
          expect(final.processed).toBe(60);
          // A re-sent Update (same ID) answers with the first one's outcome; one whose target has finished since is refused.
          expect(final.resolved + final.notParked).toBe(60);
          expect(final.failed + final.rejected + final.alreadyDecided).toBe(0);
          const accepted = await Promise.all(
            handles.map(async (h) => {
              const history = await h.fetchHistory();
              return (history.events ?? []).filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes).length;
            }),
          );
          expect(accepted).toEqual(handles.map(() => 1));
          const results = await Promise.all(handles.map((h) => h.result()));
          expect(results.every((r) => r.action === 'retry')).toBe(true);
        },
        { testWorkflows, workflows: false, operations: false, integrations: [] },
      );
    } finally {
      await first.kill();
      await second?.stop();
    }
  }, 300_000);
});
