import { createHash } from 'node:crypto';
import type { Client } from '@temporalio/client';
import type { Duration } from '@temporalio/common';
import { NativeConnection } from '@temporalio/worker';
import { WORKFLOWS_TASK_QUEUE } from '../../src/contracts/task-queues';
import { fileNameFor } from '../../src/integrations/kit/file-drop';
import { FileDropEngine } from '../../src/integrations/runtime/sftp/engine';
import { IntegrationEngine } from '../../src/integrations/runtime/engine';
import type { exchangePayrollFile } from '../../src/workflows/exchange-payroll-file.workflow';
import { createWorkers, runWorkers } from '../../src/workers/worker';
import type { SftpTestServer } from './sftp-server';
import { testLogger } from './stack';
import { testEnv } from './temporal';
import { waitFor } from './wait';

/** The payroll integration's variables pointing at a test SFTP server (the key from its `_FILE`). */
export function payrollEnv(server: SftpTestServer, port = server.port): NodeJS.ProcessEnv {
  return {
    PAYROLL_SFTP_HOST: server.host,
    PAYROLL_SFTP_PORT: String(port),
    PAYROLL_SFTP_USERNAME: server.username,
    PAYROLL_SFTP_KEY_FILE: server.privateKeyFile,
    PAYROLL_SFTP_HOST_KEY: server.hostKeyFingerprint,
  };
}

/**
 * Runs `fn` with a worker serving the payroll queue (SFTP activities with `env`), and the workflows too
 * unless `workflows: false` (when another worker already runs them, as in the replay recording).
 */
export async function withPayrollWorker<T>(
  env: NodeJS.ProcessEnv,
  fn: () => Promise<T>,
  options: { workflows?: boolean } = {},
): Promise<T> {
  const connection = await NativeConnection.connect({ address: testEnv.temporalAddress });
  const runtime = new IntegrationEngine({ logger: testLogger() });
  const workers = await createWorkers({
    connection,
    namespace: 'default',
    workflowBundle: { codePath: testEnv.workflowBundle },
    shutdownGraceTime: '1 second',
    runtime,
    workflows: options.workflows ?? true,
    integrations: [], // only the payroll queue
    fileDrops: new FileDropEngine({ logger: testLogger(), env }),
  });
  const running = runWorkers(workers);
  try {
    return await fn();
  } finally {
    for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
    await running;
    await runtime.close();
    await connection.close();
  }
}

export function startPayrollExchange(
  client: Client,
  workflowId: string,
  content: Buffer,
  answerDeadline: Duration = '10 minutes',
) {
  return client.workflow.start<typeof exchangePayrollFile>('exchangePayrollFile', {
    taskQueue: WORKFLOWS_TASK_QUEUE,
    workflowId,
    args: [{ payrollId: workflowId, contentBase64: content.toString('base64'), answerDeadline }],
  });
}

/** The bank's side: once the request file is in the outbox, answers it in the inbox (sidecar last). */
export async function bankAnswers(server: SftpTestServer, workflowId: string, answer: Buffer): Promise<string> {
  const key = `${workflowId}:payroll-file`;
  const name = fileNameFor(key, '.csv');
  await waitFor(`${name} in the outbox`, () => server.files('outbox').includes(name), 60_000, 100);
  const base = fileNameFor(key);
  server.write('inbox', `${base}.ack.csv`, answer);
  server.write('inbox', `${base}.ack.csv.sha256`, createHash('sha256').update(answer).digest('hex'));
  return name;
}
