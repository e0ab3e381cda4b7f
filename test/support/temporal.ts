import { Client } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { IntegrationEngine } from '../../src/integrations/runtime/engine';
import { createWorkers, runWorkers, type WorkerSetOptions } from '../../src/workers/worker';
import { testLogger } from './stack';
import { connectClient } from '../../src/temporal/connection';

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run the tests with \`npm test\` (jest's global setup sets it)`);
  return value;
}

export const testEnv = {
  get temporalAddress() {
    return required('TEST_TEMPORAL_ADDRESS');
  },
  get sandboxUrl() {
    return required('TEST_SANDBOX_URL');
  },
  get workflowBundle() {
    return required('TEST_WORKFLOW_BUNDLE');
  },
};

export interface TemporalTestContext {
  client: Client;
  workers: Worker[];
  runtime: IntegrationEngine;
}

/**
 * Runs `fn` with this project's real workers polling the dev server, then shuts them down.
 * Workers use the workflow bundle built once by the global setup.
 */
export async function withWorkers<T>(
  fn: (ctx: TemporalTestContext) => Promise<T>,
  options: Partial<
    Pick<
      WorkerSetOptions,
      'integrations' | 'workflows' | 'operations' | 'runtime' | 'dataConverter' | 'tracing' | 'workflowBundle'
    >
  > & {
    /** Test-only workflows (a bundle built from this path) on their own task queue, beside the real ones. */
    testWorkflows?: { path: string; taskQueue: string };
    /** Another server than the global setup's (host:port), e.g. one a test started with the UI. */
    address?: string;
  } = {},
): Promise<T> {
  const runtime =
    options.runtime ?? new IntegrationEngine({ logger: testLogger().child({ component: 'integration' }) });
  const { address = testEnv.temporalAddress, testWorkflows, ...workerOptions } = options;
  const nativeConnection = await NativeConnection.connect({ address });
  const connection = await connectClient({ address, namespace: 'default' });
  const workers = await createWorkers({
    connection: nativeConnection,
    namespace: 'default',
    workflowBundle: { codePath: testEnv.workflowBundle },
    shutdownGraceTime: '1 second',
    ...workerOptions,
    runtime,
  });
  if (testWorkflows) {
    workers.push(
      await Worker.create({
        connection: nativeConnection,
        namespace: 'default',
        taskQueue: testWorkflows.taskQueue,
        workflowsPath: testWorkflows.path,
        shutdownGraceTime: '1 second',
        dataConverter: options.dataConverter,
      }),
    );
  }
  const running = runWorkers(workers);
  try {
    return await fn({ client: new Client({ connection, dataConverter: options.dataConverter }), workers, runtime });
  } finally {
    for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
    await running;
    if (!options.runtime) await runtime.close();
    await connection.close();
    await nativeConnection.close();
  }
}

/** A workflow ID no other test (or earlier run) uses. */
export function uniqueId(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}
