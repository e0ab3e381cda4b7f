import { execFileSync } from 'node:child_process';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { Client, Connection, WorkflowFailedError } from '@temporalio/client';
import type { ApplicationFailure, Duration } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { FailureType } from '../../src/integrations/kit/failures';
import {
  fileNameFor,
  type AwaitFileInput,
  type AwaitFileResult,
  type UploadInput,
  type UploadResult,
} from '../../src/integrations/kit/file-drop';
import { payroll } from '../../src/integrations/payroll/payroll.integration';
import { FileDropEngine, type AnswerCursor } from '../../src/integrations/runtime/sftp/engine';
import {
  bankAnswers as bankAnswersIn,
  payrollEnv,
  startPayrollExchange,
  withPayrollWorker,
} from '../support/payroll-exchange';
import { CuttingProxy, startSftpServer, type SftpTestServer } from '../support/sftp-server';
import { createLogger } from '../../src/observability/logger';
import { testLogger } from '../support/stack';
import { testEnv } from '../support/temporal';
import { waitFor } from '../support/wait';

/**
 * The file-drop kind against a real OpenSSH server (test/support/sftp-server.ts): every case checks what
 * is on the server's disk, not only what the activity answered.
 */

let server: SftpTestServer;

beforeAll(async () => {
  server = await startSftpServer();
}, 180_000);

afterAll(async () => {
  await server?.close();
});

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

function envFor(overrides: Record<string, string> = {}, port = server.port): NodeJS.ProcessEnv {
  return { ...payrollEnv(server, port), ...overrides };
}

function activitiesWith(env: NodeJS.ProcessEnv, logger = testLogger()) {
  const engine = new FileDropEngine({ logger, env });
  const activities = engine.activities(payroll);
  const uploadFn = activities.payrollUploadPayroll as (input: UploadInput) => Promise<UploadResult>;
  const awaitFn = activities.payrollAwaitAnswer as (input: AwaitFileInput) => Promise<AwaitFileResult>;
  const mock = (info: ConstructorParameters<typeof MockActivityEnvironment>[0] = {}) =>
    new MockActivityEnvironment({ attempt: 1, ...info }, { logger: new DefaultLogger('ERROR') });
  return {
    upload: (key: string, content: Buffer) =>
      mock().run<[UploadInput], UploadResult, typeof uploadFn>(uploadFn, {
        key,
        contentBase64: content.toString('base64'),
      }),
    /** One check; the heartbeated cursor is returned with the failure, for the next attempt. */
    checkAnswer: async (key: string, cursor?: AnswerCursor) => {
      const env = mock(cursor ? { heartbeatDetails: cursor } : {});
      let heartbeat: AnswerCursor | undefined;
      env.on('heartbeat', (d: unknown) => (heartbeat = d as AnswerCursor));
      try {
        return {
          result: await env.run<[AwaitFileInput], AwaitFileResult, typeof awaitFn>(awaitFn, { key }),
          heartbeat,
        };
      } catch (err) {
        return { error: err as ApplicationFailure, heartbeat };
      }
    },
  };
}

async function failureOf(p: Promise<unknown>): Promise<ApplicationFailure> {
  try {
    await p;
  } catch (err) {
    return err as ApplicationFailure;
  }
  throw new Error('expected a failure');
}

describe('upload', () => {
  it('delivers once under a resend: the second attempt finds the final name and writes nothing', async () => {
    const { upload } = activitiesWith(envFor());
    const key = `test-${randomUUID()}:payroll-file`;
    const content = Buffer.from('employee,amount\nE1,100\n');
    const first = await upload(key, content);
    const second = await upload(key, content);
    const name = fileNameFor(key, '.csv');
    expect(first).toEqual({
      path: `outbox/${name}`,
      bytes: content.length,
      sha256: sha256(content),
      delivered: 'uploaded',
    });
    expect(second.delivered).toBe('already-there');
    const onDisk = server.files('outbox').filter((f) => f.includes(name));
    expect(onDisk).toEqual([name]); // one final file, no temp leftovers
    expect(sha256(server.read('outbox', name))).toBe(sha256(content));
  });

  it('does not take a partial file left under the temp name by a crashed attempt as delivered', async () => {
    const { upload } = activitiesWith(envFor());
    const key = `test-${randomUUID()}:payroll-file`;
    const name = fileNameFor(key, '.csv');
    const content = randomBytes(64 * 1024);
    server.write('outbox', `.${name}.0badc0ffee00.part`, content.subarray(0, 1000)); // what a crash mid-upload leaves
    const result = await upload(key, content);
    expect(result.delivered).toBe('uploaded');
    expect(server.files('outbox').filter((f) => f.includes(name))).toEqual([name]);
    expect(sha256(server.read('outbox', name))).toBe(sha256(content));
  });

  it('refuses a different file already delivered under the same key', async () => {
    const { upload } = activitiesWith(envFor());
    const key = `test-${randomUUID()}:payroll-file`;
    await upload(key, Buffer.from('first'));
    const failure = await failureOf(upload(key, Buffer.from('second, different')));
    expect(failure.type).toBe(FailureType.RequestRejected);
    expect(failure.nonRetryable).toBe(true);
    expect(server.read('outbox', fileNameFor(key, '.csv')).toString()).toBe('first');
  });

  it('a connection cut mid-upload is OutcomeUnknown; the retry leaves exactly one file with the right checksum', async () => {
    const proxy = new CuttingProxy(server.port);
    await proxy.start();
    try {
      const { upload } = activitiesWith(envFor({}, proxy.port));
      const key = `test-${randomUUID()}:payroll-file`;
      const name = fileNameFor(key, '.csv');
      const content = randomBytes(2 * 1024 * 1024);
      proxy.cutAfter(512 * 1024); // well past the handshake and the name check: inside the file's bytes
      const failure = await failureOf(upload(key, content));
      expect(proxy.cuts).toBe(1);
      expect(failure.type).toBe(FailureType.OutcomeUnknown);
      expect(failure.nonRetryable).toBe(false);
      expect(server.files('outbox')).not.toContain(name); // not delivered: at most a partial temp file
      const retried = await upload(key, content);
      expect(retried.delivered).toBe('uploaded');
      expect(server.files('outbox').filter((f) => f.includes(name))).toEqual([name]);
      expect(sha256(server.read('outbox', name))).toBe(sha256(content));
    } finally {
      await proxy.close();
    }
  });

  it('a wrong pinned host key is Misconfigured, not retried, and nothing is uploaded', async () => {
    const { upload } = activitiesWith(envFor({ PAYROLL_SFTP_HOST_KEY: server.otherFingerprint }));
    const key = `test-${randomUUID()}:payroll-file`;
    const failure = await failureOf(upload(key, Buffer.from('x')));
    expect(failure.type).toBe(FailureType.Misconfigured);
    expect(failure.nonRetryable).toBe(true);
    expect(failure.message).toContain('host key that is not pinned');
    expect(server.files('outbox').filter((f) => f.includes(fileNameFor(key)))).toEqual([]);
  });

  it('a key the server does not know is Unauthorized; the key never appears in the failure', async () => {
    const file = `/tmp/di-sftp-key-${randomUUID()}`;
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', file]);
    const stranger = readFileSync(file, 'utf8');
    rmSync(file);
    rmSync(`${file}.pub`);
    const lines: string[] = [];
    const logger = createLogger({ name: 'test', level: 'info', destination: { write: (l: string) => lines.push(l) } });
    const { upload } = activitiesWith({ ...envFor(), PAYROLL_SFTP_KEY_FILE: '', PAYROLL_SFTP_KEY: stranger }, logger);
    const failure = await failureOf(upload(`test-${randomUUID()}:payroll-file`, Buffer.from('x')));
    expect(failure.type).toBe(FailureType.Unauthorized);
    expect(failure.nonRetryable).toBe(true);
    expect(lines.join('')).toContain('the server refused the key'); // logged once, with what it means
    const keyBody = stranger.split('\n')[1]!;
    for (const text of [failure.message, JSON.stringify(failure.details), lines.join('')]) {
      expect(text).not.toContain('PRIVATE KEY');
      expect(text).not.toContain(keyBody);
    }
  });

  it('refuses a file above the size cap, writing nothing', async () => {
    const { upload } = activitiesWith(envFor());
    const key = `test-${randomUUID()}:payroll-file`;
    const failure = await failureOf(upload(key, Buffer.alloc(5 * 1024 * 1024 + 1)));
    expect(failure.type).toBe(FailureType.RequestRejected);
    expect(failure.nonRetryable).toBe(true);
    expect(server.files('outbox').filter((f) => f.includes(fileNameFor(key)))).toEqual([]);
  });
});

describe('answer file', () => {
  it('is NotReady until the answer and its sidecar are there, resumes from its cursor, then answers the file', async () => {
    const { checkAnswer } = activitiesWith(envFor());
    const key = `test-${randomUUID()}:payroll-file`;
    const base = fileNameFor(key);
    server.write('inbox', `unrelated-${randomUUID()}.csv`, 'not ours');
    const first = await checkAnswer(key);
    expect(first.error?.type).toBe(FailureType.NotReady);
    expect(first.heartbeat?.checks).toBe(1);
    expect(first.heartbeat?.name).toMatch(/^unrelated-/); // the cursor moved past what is not ours

    const answer = Buffer.from('status,accepted\nE1,ok\n');
    server.write('inbox', `${base}.ack.csv`, answer); // written, but its sidecar not yet: still being written
    const second = await checkAnswer(key, first.heartbeat);
    expect(second.error?.type).toBe(FailureType.NotReady);
    expect(second.heartbeat?.checks).toBe(2);

    server.write('inbox', `${base}.ack.csv.sha256`, `${sha256(answer)}  ${base}.ack.csv\n`);
    const third = await checkAnswer(key, second.heartbeat);
    expect(third.result).toEqual({
      path: `inbox/${base}.ack.csv`,
      bytes: answer.length,
      sha256: sha256(answer),
      contentBase64: answer.toString('base64'),
    });
  });

  it('an answer that does not match its sidecar is InvalidResponse', async () => {
    const { checkAnswer } = activitiesWith(envFor());
    const key = `test-${randomUUID()}:payroll-file`;
    const base = fileNameFor(key);
    server.write('inbox', `${base}.ack.csv`, 'truncated');
    server.write('inbox', `${base}.ack.csv.sha256`, sha256(Buffer.from('the whole answer')));
    const { error } = await checkAnswer(key);
    expect(error?.type).toBe(FailureType.InvalidResponse);
    expect(error?.nonRetryable).toBe(true);
  });

  it('an answer above the cap is ResponseTooLarge', async () => {
    const { checkAnswer } = activitiesWith(envFor());
    const key = `test-${randomUUID()}:payroll-file`;
    const base = fileNameFor(key);
    const big = Buffer.alloc(1024 * 1024 + 1);
    server.write('inbox', `${base}.ack.csv`, big);
    server.write('inbox', `${base}.ack.csv.sha256`, sha256(big));
    const { error } = await checkAnswer(key);
    expect(error?.type).toBe(FailureType.ResponseTooLarge);
  });
});

describe('exchangePayrollFile on the real Temporal dev server', () => {
  jest.setTimeout(180_000);
  const withPayrollWorkers = <T>(env: NodeJS.ProcessEnv, fn: (client: Client) => Promise<T>) =>
    withPayrollWorker(env, async () => {
      const connection = await Connection.connect({ address: testEnv.temporalAddress });
      try {
        return await fn(new Client({ connection }));
      } finally {
        await connection.close();
      }
    });
  const start = (client: Client, payrollId: string, content: Buffer, answerDeadline?: Duration) =>
    startPayrollExchange(client, `payroll-file-${payrollId}`, content, answerDeadline);
  const bankAnswers = (workflowId: string, answer: Buffer) => bankAnswersIn(server, workflowId, answer);

  it('uploads the payroll file once and completes with the bank answer file', async () => {
    await withPayrollWorkers(envFor(), async (client) => {
      const content = Buffer.from('employee,amount\nE1,100\nE2,200\n');
      const handle = await start(client, `test-${randomUUID()}`, content);
      const answer = Buffer.from('E1,paid\nE2,paid\n');
      const name = await bankAnswers(handle.workflowId, answer);
      const result = await handle.result();
      expect(result.request).toMatchObject({ path: `outbox/${name}`, sha256: sha256(content), delivered: 'uploaded' });
      expect(Buffer.from(result.answer.contentBase64, 'base64').toString()).toBe(answer.toString());
      expect(
        server.files('outbox').filter((f) => f.includes(fileNameFor(`${handle.workflowId}:payroll-file`))),
      ).toEqual([name]);
    });
  });

  it('fails DeadlineExceeded when no answer comes before the deadline', async () => {
    await withPayrollWorkers(envFor(), async (client) => {
      const handle = await start(client, `test-${randomUUID()}`, Buffer.from('E1,1\n'), '3 seconds');
      const err = await handle.result().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(WorkflowFailedError);
      const cause = (err as WorkflowFailedError).cause as ApplicationFailure;
      expect(cause.type).toBe(FailureType.DeadlineExceeded);
    });
  });

  it('with the server down, the upload fails NetworkError, is retried, and delivers once when it is back', async () => {
    await server.stop();
    let restarted = false;
    try {
      await withPayrollWorkers(envFor(), async (client) => {
        const content = randomBytes(4096);
        const handle = await start(client, `test-${randomUUID()}`, content);
        await waitFor(
          'two failed upload attempts',
          async () => {
            const pending = (await handle.describe()).raw.pendingActivities?.[0];
            return (
              (pending?.attempt ?? 0) >= 2 &&
              pending?.lastFailure?.applicationFailureInfo?.type === FailureType.NetworkError
            );
          },
          60_000,
          200,
        );
        await server.start();
        restarted = true;
        const name = await bankAnswers(handle.workflowId, Buffer.from('ok'));
        const result = await handle.result();
        expect(result.request.sha256).toBe(sha256(content));
        expect(
          server.files('outbox').filter((f) => f.includes(fileNameFor(`${handle.workflowId}:payroll-file`))),
        ).toEqual([name]);
      });
    } finally {
      if (!restarted) await server.start();
    }
  });

  it('a connection cut mid-upload is retried by Temporal: one file on disk, with the right checksum', async () => {
    const proxy = new CuttingProxy(server.port);
    await proxy.start();
    try {
      await withPayrollWorkers(envFor({}, proxy.port), async (client) => {
        // 1 MiB: the content travels in the workflow's input, under Temporal's 2 MB payload limit.
        const content = randomBytes(1024 * 1024);
        proxy.cutAfter(256 * 1024);
        const handle = await start(client, `test-${randomUUID()}`, content);
        const name = await bankAnswers(handle.workflowId, Buffer.from('ok'));
        const result = await handle.result();
        expect(proxy.cuts).toBe(1);
        expect(result.request).toMatchObject({ sha256: sha256(content), delivered: 'uploaded' });
        const history = await handle.fetchHistory();
        const attempts = history
          .events!.filter((e) => e.activityTaskStartedEventAttributes)
          .map((e) => e.activityTaskStartedEventAttributes!.attempt ?? 0);
        expect(Math.max(...attempts)).toBeGreaterThanOrEqual(2); // the cut attempt, then the one that delivered
        expect(
          server.files('outbox').filter((f) => f.includes(fileNameFor(`${handle.workflowId}:payroll-file`))),
        ).toEqual([name]);
        expect(sha256(server.read('outbox', name))).toBe(sha256(content));
      });
    } finally {
      await proxy.close();
    }
  });
});
