import { EncryptionCodec, generateEncryptionKey, parseEncryptionKeys } from '../../src/codec/encryption-codec';
import { randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { connect as netConnect, createServer as createNetServer } from 'node:net';
import { Client, Connection, WorkflowNotFoundError } from '@temporalio/client';
import { join } from 'node:path';
import { startDevServer } from '../../src/devserver/dev-server';
import { startService } from '../../src/devserver/service-process';
import { createLogger } from '../../src/observability/logger';
import { standardSignature, turbodocxSignature } from '../../src/sandbox/webhooks';
import { documentsWebhooks } from '../../src/webhooks/providers';
import { WebhookOutbox } from '../../src/webhooks/outbox';
import { startReceiver, type Receiver, type ReceiverOptions } from '../../src/webhooks/server';
import { TemporalStarter, webhookWorkflowId } from '../../src/webhooks/temporal-starter';
import type { processWebhookEvent } from '../../src/workflows/process-webhook-event.workflow';
import { WORKFLOWS_TASK_QUEUE } from '../../src/contracts/task-queues';
import { sql, testDatabase } from '../support/pg';
import { TMP_DIR } from '../support/stack';
import { testEnv, uniqueId, withWorkers } from '../support/temporal';
import { waitFor } from '../support/wait';

// Signed the way the sandbox signs (its own hand-written HMACs), verified by the receiver (the
// standardwebhooks package + its hex check): two implementations that must agree.
const oldSecret = `whsec_${randomBytes(24).toString('base64')}`;
const newSecret = `whsec_${randomBytes(24).toString('base64')}`;
const maxBodyBytes = 8 * 1024;
// The receiver's clock is pinned for the window tests (a second ticking over between signing and
// checking must not decide them); the library re-checks with the real clock, a few seconds away.
const clockMs = Date.now();
const nowSeconds = () => Math.floor(clockMs / 1000);

let secrets: string[] = [oldSecret];
/** The tests' PostgreSQL database (as test/integration/crm-sync.test.ts); the outbox test's table is its own. */
const outboxDatabase = testDatabase;
const logLines: string[] = [];
let receiver: Receiver;
let connection: Connection;
let client: Client;

function receiverOptions(overrides: Partial<ReceiverOptions> = {}): ReceiverOptions {
  return {
    providers: [{ definition: documentsWebhooks, secrets: () => secrets }],
    // No worker polls this queue: these tests only need Temporal to accept (or refuse) the start.
    temporal: { address: testEnv.temporalAddress, taskQueue: uniqueId('webhooks-idle') },
    limits: { maxBodyBytes, headersTimeoutMs: 300, requestTimeoutMs: 600 },
    logger: createLogger({ name: 'receiver', level: 'info', destination: { write: (line) => logLines.push(line) } }),
    now: () => clockMs,
    ...overrides,
  };
}

beforeAll(async () => {
  receiver = await startReceiver(receiverOptions({ ops: { host: '127.0.0.1', port: 0 } }));
  connection = await Connection.connect({ address: testEnv.temporalAddress });
  client = new Client({ connection });
});

afterAll(async () => {
  await receiver.close();
  await connection.close();
});

interface Delivery {
  body: string;
  headers: Record<string, string>;
}

function documentEvent(overrides: Record<string, unknown> = {}) {
  const jobId = `job_${randomBytes(6).toString('hex')}`;
  return {
    id: `evt_${randomBytes(8).toString('hex')}`,
    type: 'document.completed',
    createdAt: new Date(clockMs).toISOString(),
    data: { jobId, documentUrl: `http://127.0.0.1:9/documents/files/${jobId}.pdf` },
    ...overrides,
  };
}

/** A delivery as the sandbox makes it: both schemes, signed with `secret` at `timestamp`. */
function signed(event: { id: string }, options: { secret?: string; timestamp?: number; body?: string } = {}): Delivery {
  const secret = options.secret ?? oldSecret;
  const timestamp = options.timestamp ?? nowSeconds();
  const body = options.body ?? JSON.stringify(event);
  return {
    body,
    headers: {
      'content-type': 'application/json',
      'webhook-id': event.id,
      'webhook-timestamp': String(timestamp),
      'webhook-signature': standardSignature(secret, event.id, timestamp, body),
      'x-turbodocx-signature': turbodocxSignature(secret, body),
    },
  };
}

/** Only the Standard Webhooks scheme (tests of that scheme alone). */
function standardOnly(delivery: Delivery): Delivery {
  const { 'x-turbodocx-signature': _hex, ...headers } = delivery.headers;
  return { body: delivery.body, headers };
}

/** Only the hex-HMAC scheme, plus the timestamp header it requires. */
function hexOnly(delivery: Delivery): Delivery {
  const { 'webhook-signature': _sig, 'webhook-id': _id, ...headers } = delivery.headers;
  return { body: delivery.body, headers };
}

async function post(
  delivery: Delivery,
  path = '/webhooks/documents',
): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const res = await fetch(`${receiver.url}${path}`, { method: 'POST', headers: delivery.headers, body: delivery.body });
  return { status: res.status, body: (await res.json()) as Record<string, unknown>, headers: res.headers };
}

/** Raw node:http, for bodies the receiver refuses before reading them to the end. */
function postStreaming(options: {
  url: string;
  headers: Record<string, string>;
  chunk: Buffer;
  maxChunks: number;
}): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${options.url}/webhooks/documents`, { method: 'POST', headers: options.headers });
    let answered = false;
    req.on('response', (res) => {
      answered = true;
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    // Writes after the receiver hung up fail: expected once it answered.
    req.on('error', (err) => (answered ? undefined : reject(err)));
    let sent = 0;
    const pump = () => {
      while (!answered && sent < options.maxChunks) {
        sent += 1;
        if (!req.write(options.chunk)) return void req.once('drain', pump);
      }
      if (!answered) req.end();
    };
    pump();
  });
}

async function runIdOf(workflowId: string, on: Client = client): Promise<string | undefined> {
  try {
    return (await on.workflow.getHandle(workflowId).describe()).runId;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw err;
  }
}

function rejectionsLogged(reason: string): number {
  return logLines.filter((line) => line.includes('"webhook.rejected"') && line.includes(`"reason":"${reason}"`)).length;
}

describe('webhook receiver: signatures', () => {
  it('accepts a delivery signed like the sandbox signs it and starts its workflow', async () => {
    const event = documentEvent();
    const res = await post(signed(event));
    expect(res).toMatchObject({ status: 202, body: { ok: true, status: 'accepted' } });
    expect(await runIdOf(webhookWorkflowId('documents', event.id))).toEqual(expect.any(String));
  });

  it('rejects a forged Standard Webhooks signature', async () => {
    const delivery = standardOnly(signed(documentEvent()));
    delivery.headers['webhook-signature'] = `v1,${randomBytes(32).toString('base64')}`;
    expect(await post(delivery)).toMatchObject({ status: 401, body: { error: 'signature_mismatch' } });
  });

  it('rejects a delivery signed with a secret the receiver does not know', async () => {
    const delivery = signed(documentEvent(), { secret: `whsec_${randomBytes(24).toString('base64')}` });
    expect(await post(delivery)).toMatchObject({ status: 401, body: { error: 'signature_mismatch' } });
  });

  it('rejects a body changed after signing', async () => {
    const event = documentEvent();
    const delivery = signed(event);
    delivery.body = delivery.body.replace(event.data.jobId, 'job_someoneelse');
    expect(await post(delivery)).toMatchObject({ status: 401, body: { error: 'signature_mismatch' } });
  });

  it('rejects the same JSON re-serialized with different bytes', async () => {
    const event = documentEvent();
    const delivery = signed(event);
    delivery.body = JSON.stringify(event, null, 2);
    expect(JSON.parse(delivery.body)).toEqual(event);
    expect(await post(delivery)).toMatchObject({ status: 401, body: { error: 'signature_mismatch' } });
  });

  it('rejects a delivery that carries no signature at all', async () => {
    const { body, headers } = hexOnly(signed(documentEvent()));
    const { 'x-turbodocx-signature': _hex, ...unsigned } = headers;
    expect(await post({ body, headers: unsigned })).toMatchObject({
      status: 401,
      body: { error: 'missing_signature' },
    });
  });

  it('accepts a valid hex HMAC signature on its own', async () => {
    const event = documentEvent();
    expect(await post(hexOnly(signed(event)))).toMatchObject({ status: 202 });
    expect(await runIdOf(webhookWorkflowId('documents', event.id))).toEqual(expect.any(String));
  });

  it('rejects a forged hex HMAC signature', async () => {
    const delivery = hexOnly(signed(documentEvent()));
    delivery.headers['x-turbodocx-signature'] = randomBytes(32).toString('hex');
    expect(await post(delivery)).toMatchObject({ status: 401, body: { error: 'signature_mismatch' } });
  });

  it('rejects a valid Standard Webhooks signature next to a forged hex one', async () => {
    const delivery = signed(documentEvent());
    delivery.headers['x-turbodocx-signature'] = 'ab'.repeat(32);
    expect(await post(delivery)).toMatchObject({ status: 401, body: { error: 'signature_mismatch' } });
  });
});

describe('webhook receiver: secret rotation', () => {
  afterEach(() => {
    secrets = [oldSecret];
  });

  it('accepts one header carrying signatures by the new and the old secret', async () => {
    const event = documentEvent();
    const delivery = standardOnly(signed(event));
    const byNew = standardSignature(newSecret, event.id, nowSeconds(), delivery.body);
    delivery.headers['webhook-signature'] = `${byNew} ${delivery.headers['webhook-signature']}`;
    expect(await post(delivery)).toMatchObject({ status: 202 });
  });

  it('accepts a delivery signed with only the new secret once the receiver knows both', async () => {
    secrets = [oldSecret, newSecret];
    expect(await post(signed(documentEvent(), { secret: newSecret }))).toMatchObject({ status: 202 });
  });

  it('rejects the old secret once it has been removed', async () => {
    secrets = [newSecret];
    expect(await post(signed(documentEvent(), { secret: oldSecret }))).toMatchObject({
      status: 401,
      body: { error: 'signature_mismatch' },
    });
  });

  it('rejects a header whose only signature has an unknown version', async () => {
    const delivery = standardOnly(signed(documentEvent()));
    delivery.headers['webhook-signature'] = delivery.headers['webhook-signature']!.replace(/^v1,/, 'v2,');
    expect(await post(delivery)).toMatchObject({ status: 401, body: { error: 'unsupported_signature_version' } });
  });
});

describe('webhook receiver: freshness', () => {
  it('rejects a timestamp 301 seconds in the past', async () => {
    const delivery = signed(documentEvent(), { timestamp: nowSeconds() - 301 });
    expect(await post(delivery)).toMatchObject({ status: 401, body: { error: 'timestamp_too_old' } });
  });

  it('rejects a timestamp 301 seconds in the future', async () => {
    const delivery = signed(documentEvent(), { timestamp: nowSeconds() + 301 });
    expect(await post(delivery)).toMatchObject({ status: 401, body: { error: 'timestamp_too_new' } });
  });

  it('rejects a delivery without a timestamp', async () => {
    const { 'webhook-timestamp': _ts, ...headers } = signed(documentEvent()).headers;
    expect(await post({ body: '{}', headers })).toMatchObject({ status: 401, body: { error: 'missing_timestamp' } });
  });

  it('rejects a timestamp that is not a number', async () => {
    const delivery = signed(documentEvent());
    delivery.headers['webhook-timestamp'] = `${nowSeconds()}abc`;
    expect(await post(delivery)).toMatchObject({ status: 401, body: { error: 'invalid_timestamp' } });
  });

  it('requires the timestamp header for the hex HMAC scheme too', async () => {
    const { 'webhook-timestamp': _ts, ...headers } = hexOnly(signed(documentEvent())).headers;
    expect(await post({ body: '{}', headers })).toMatchObject({ status: 401, body: { error: 'missing_timestamp' } });
  });
});

describe('webhook receiver: deduplication', () => {
  it('answers 200 to a replay inside the window and keeps the one workflow', async () => {
    const event = documentEvent();
    const delivery = signed(event);
    expect((await post(delivery)).status).toBe(202);
    const runId = await runIdOf(webhookWorkflowId('documents', event.id));
    expect(await post(delivery)).toMatchObject({ status: 200, body: { status: 'duplicate' } });
    expect(await runIdOf(webhookWorkflowId('documents', event.id))).toBe(runId);
  });

  it('answers 200 to a redelivery with a fresh timestamp and signature after the workflow closed, starting nothing', async () => {
    const event = documentEvent();
    const workflowId = webhookWorkflowId('documents', event.id);
    const result = await withWorkers(async ({ client: workerClient }) => {
      const live = await startReceiver(
        receiverOptions({
          temporal: { address: testEnv.temporalAddress, taskQueue: WORKFLOWS_TASK_QUEUE },
          waiter: { attempts: 1 },
        }),
      );
      try {
        const first = await fetch(`${live.url}/webhooks/documents`, { method: 'POST', ...signed(event) });
        expect(first.status).toBe(202);
        return await workerClient.workflow.getHandle<typeof processWebhookEvent>(workflowId).result();
      } finally {
        await live.close();
      }
    });
    expect(result).toMatchObject({ outcome: 'no-waiter' });
    const runId = await runIdOf(workflowId);

    const later = signed(event, { timestamp: nowSeconds() + 30 });
    expect(later.headers['webhook-signature']).not.toBe(signed(event).headers['webhook-signature']);
    expect(await post(later)).toMatchObject({ status: 200, body: { status: 'duplicate' } });
    expect(await runIdOf(workflowId)).toBe(runId);
  });

  it('with a PostgreSQL outbox: answers 202 once the event is stored, relays it into one workflow, and a redelivery starts nothing new', async () => {
    const table = `webhook_outbox_test_${Date.now().toString(36)}`;
    const outbox = new WebhookOutbox({
      url: outboxDatabase,
      table,
      pollMs: 100,
      logger: createLogger({ name: 'outbox', level: 'error' }),
    });
    await outbox.ensureSchema();
    const buffered = await startReceiver(receiverOptions({ outbox }));
    const relayed = async () => {
      while ((await outbox.pending()) > 0) await new Promise((r) => setTimeout(r, 50));
    };
    try {
      const event = documentEvent();
      const workflowId = webhookWorkflowId('documents', event.id);
      const send = async () =>
        (await fetch(`${buffered.url}/webhooks/documents`, { method: 'POST', ...signed(event) })).status;
      expect(await send()).toBe(202);
      await relayed();
      const runId = await runIdOf(workflowId);
      expect(runId).toEqual(expect.any(String));
      // Relayed already: stored again, and its start finds the workflow there (REJECT_DUPLICATE).
      expect(await send()).toBe(202);
      await relayed();
      expect(await runIdOf(workflowId)).toBe(runId);
      expect(outbox.stats()).toMatchObject({ stored: 2, relayed: 1, relayDuplicates: 1, relayFailures: 0 });
    } finally {
      await buffered.close();
      await sql(`DROP TABLE IF EXISTS ${table}`, outboxDatabase);
    }
  });

  it('with a PostgreSQL outbox and payload encryption: rows hold the event encrypted, relayed decoded; a relay without the key keeps them', async () => {
    const table = `webhook_outbox_test_${Date.now().toString(36)}e`;
    const dataConverter = { payloadCodecs: [new EncryptionCodec(parseEncryptionKeys(generateEncryptionKey('pk')))] };
    const options = {
      url: outboxDatabase,
      table,
      pollMs: 50,
      logger: createLogger({ name: 'outbox', level: 'fatal' }),
    };
    const encrypted = new WebhookOutbox({ ...options, dataConverter });
    const keyless = new WebhookOutbox(options);
    await encrypted.ensureSchema();
    const e = documentEvent();
    const input = { provider: 'documents', eventId: e.id, type: e.type, createdAt: e.createdAt, data: e.data };
    const workflowId = webhookWorkflowId('documents', e.id);
    try {
      expect(await encrypted.put(input, workflowId)).toEqual({ kind: 'started', workflowId });
      const rows = await sql<{ event: string }>(`SELECT event::text AS event FROM ${table}`, outboxDatabase);
      expect(rows).toHaveLength(1);
      expect(rows[0]!.event).toContain('$payload');
      for (const clear of [e.id, String(e.data.jobId), e.type]) expect(rows[0]!.event).not.toContain(clear);
      const refused: unknown[] = [];
      keyless.startRelay((got) => {
        refused.push(got);
        return Promise.resolve({ kind: 'started', workflowId });
      });
      await waitFor('the keyless relay to try it', () => keyless.stats().relayFailures > 0, 30_000, 50);
      await keyless.close();
      expect(refused).toEqual([]);
      expect(await encrypted.pending()).toBe(1);
      const started: unknown[] = [];
      encrypted.startRelay((got) => {
        started.push(got);
        return Promise.resolve({ kind: 'started', workflowId });
      });
      await waitFor('the event relayed', () => started.length === 1, 30_000, 50);
      expect(started).toEqual([input]);
    } finally {
      await encrypted.close();
      await keyless.close().catch(() => undefined);
      await sql(`DROP TABLE IF EXISTS ${table}`, outboxDatabase);
    }
  });

  it('with a PostgreSQL outbox: a batch of events Temporal refuses for good does not hold back the others', async () => {
    const table = `webhook_outbox_test_${Date.now().toString(36)}`;
    // Batches of 2, and 2 poison events stored first: ordered by arrival alone they would fill every batch.
    const outbox = new WebhookOutbox({
      url: outboxDatabase,
      table,
      batchSize: 2,
      pollMs: 100,
      logger: createLogger({ name: 'outbox', level: 'fatal' }),
    });
    await outbox.ensureSchema();
    const starter = new TemporalStarter({
      address: testEnv.temporalAddress,
      taskQueue: uniqueId('webhooks-idle'),
      security: null,
    });
    const input = (e: ReturnType<typeof documentEvent>) => ({
      provider: 'documents',
      eventId: e.id,
      type: e.type,
      createdAt: e.createdAt,
      data: e.data,
    });
    // Over Temporal's 2 MB payload limit: INVALID_ARGUMENT, a refusal no retry fixes.
    const poison = [1, 2].map(() =>
      documentEvent({ data: { jobId: 'job_poison', documentUrl: `http://127.0.0.1:9/${'x'.repeat(2_500_000)}` } }),
    );
    const good = [1, 2, 3].map(() => documentEvent());
    for (const e of [...poison, ...good]) await outbox.put(input(e), webhookWorkflowId('documents', e.id));
    outbox.startRelay((e) => starter.start(e));
    try {
      await waitFor('the good events relayed', () => outbox.stats().relayed === good.length, 30_000, 50);
      for (const e of good) expect(await runIdOf(webhookWorkflowId('documents', e.id))).toEqual(expect.any(String));
      expect(await outbox.pending()).toBe(poison.length); // kept, retried, never dropped
    } finally {
      await outbox.close();
      await starter.close();
      await sql(`DROP TABLE IF EXISTS ${table}`, outboxDatabase);
    }
  });

  it('hashes an event ID with unsafe characters into its workflow ID', async () => {
    const event = documentEvent({ id: 'evt ../ä?' });
    expect((await post(signed(event))).status).toBe(202);
    const workflowId = webhookWorkflowId('documents', event.id);
    expect(workflowId).toMatch(/^webhook-documents-sha256-[0-9a-f]{64}$/);
    expect(await runIdOf(workflowId)).toEqual(expect.any(String));
  });
});

describe('webhook receiver: limits and bad input', () => {
  it('answers 413 to a body larger than the cap, announced by content-length', async () => {
    const delivery = signed(documentEvent());
    const status = await postStreaming({
      url: receiver.url,
      headers: { ...delivery.headers, 'content-length': String(maxBodyBytes * 2) },
      chunk: Buffer.alloc(maxBodyBytes * 2, 0x20),
      maxChunks: 1,
    });
    expect(status).toBe(413);
  });

  it('answers 413 to a chunked body without content-length once it passes the cap', async () => {
    const delivery = signed(documentEvent());
    const status = await postStreaming({
      url: receiver.url,
      headers: { ...delivery.headers, 'transfer-encoding': 'chunked' },
      chunk: Buffer.alloc(1024, 0x20),
      // Far more than the cap: the answer must come before the sender is done.
      maxChunks: 4096,
    });
    expect(status).toBe(413);
  });

  it('answers 415 to a body that is not declared as JSON', async () => {
    const delivery = signed(documentEvent());
    delivery.headers['content-type'] = 'text/plain';
    expect(await post(delivery)).toMatchObject({ status: 415, body: { error: 'unsupported_media_type' } });
  });

  it('answers 400 to validly signed malformed JSON and starts nothing', async () => {
    const before = receiver.stats();
    const delivery = signed({ id: 'evt_malformed' }, { body: '{"id":"evt_malformed","type":' });
    expect(await post(delivery)).toMatchObject({ status: 400, body: { error: 'malformed_json' } });
    expect(receiver.stats()).toMatchObject({ accepted: before.accepted, duplicates: before.duplicates });
    expect(await runIdOf(webhookWorkflowId('documents', 'evt_malformed'))).toBeUndefined();
  });

  it('answers 400 to validly signed JSON that violates the event schema and starts nothing', async () => {
    const event = documentEvent({ data: { documentUrl: 'not a url' } });
    const res = await post(signed(event));
    expect(res).toMatchObject({ status: 400, body: { error: 'invalid_event' } });
    expect(res.body.issues).toEqual(expect.arrayContaining([expect.stringContaining('data.jobId')]));
    expect(await runIdOf(webhookWorkflowId('documents', event.id))).toBeUndefined();
  });

  it('answers 404 to a provider it does not know', async () => {
    expect(await post(signed(documentEvent()), '/webhooks/payments')).toMatchObject({
      status: 404,
      body: { error: 'unknown_provider' },
    });
  });

  it('answers 405 with Allow: POST to another method', async () => {
    const res = await fetch(`${receiver.url}/webhooks/documents`);
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('POST');
  });

  /** Opens a raw connection, sends `data`, then stalls; resolves with what the receiver sent before closing. */
  function stall(data: string): Promise<string> {
    return new Promise<string>((resolve, reject) => {
      const { port } = new URL(receiver.url);
      const socket = netConnect(Number(port), '127.0.0.1', () => socket.write(data));
      let reply = '';
      socket.on('data', (chunk: Buffer) => (reply += chunk.toString('latin1')));
      socket.on('close', () => resolve(reply));
      socket.on('error', reject);
    });
  }

  it('cuts off a client that does not finish its headers in time with 408', async () => {
    const reply = await stall('POST /webhooks/documents HTTP/1.1\r\nhost: receiver\r\n');
    expect(reply).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('cuts off a client that does not finish its body in time with 408', async () => {
    const { headers } = signed(documentEvent());
    const head = Object.entries({ ...headers, host: 'receiver', 'content-length': '100' })
      .map(([name, value]) => `${name}: ${value}\r\n`)
      .join('');
    const reply = await stall(`POST /webhooks/documents HTTP/1.1\r\n${head}\r\n{"id":`);
    expect(reply).toMatch(/^HTTP\/1\.1 408 /);
    expect(reply.match(/HTTP\/1\.1/g)).toHaveLength(1);
  });
});

describe('webhook receiver: observability', () => {
  it('counts each rejection by reason at GET /stats of its operations port and logs it once', async () => {
    const before = receiver.stats().rejected.signature_mismatch ?? 0;
    const loggedBefore = rejectionsLogged('signature_mismatch');
    const delivery = signed(documentEvent());
    delivery.headers['x-turbodocx-signature'] = '00'.repeat(32);
    await post(delivery);
    const stats = (await (await fetch(`${receiver.opsUrl}/stats`)).json()) as { rejected: Record<string, number> };
    expect(stats.rejected.signature_mismatch).toBe(before + 1);
    expect(rejectionsLogged('signature_mismatch')).toBe(loggedBefore + 1);
  });

  it('never logs a secret, a signature or the payload', async () => {
    const event = documentEvent();
    const delivery = signed(event);
    await post(delivery);
    await post({ ...delivery, body: `${delivery.body} ` });
    const log = logLines.join('\n');
    expect(log).toContain(event.id);
    for (const secret of [oldSecret, newSecret, oldSecret.slice('whsec_'.length)]) expect(log).not.toContain(secret);
    expect(log).not.toContain(delivery.headers['webhook-signature']!.slice(3));
    expect(log).not.toContain(delivery.headers['x-turbodocx-signature']);
    expect(log).not.toContain(event.data.jobId);
  });
});

describe('webhook receiver: Temporal down', () => {
  async function freePort(): Promise<number> {
    const server = createNetServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    await new Promise<void>((resolve) => server.close(() => resolve()));
    return port;
  }

  it('answers 503 with Retry-After while Temporal is unreachable, then accepts the redelivery once', async () => {
    const port = await freePort();
    const down = await startReceiver(
      receiverOptions({ temporal: { address: `127.0.0.1:${port}`, taskQueue: 'unused', startTimeoutMs: 1000 } }),
    );
    const event = documentEvent();
    const send = async () => {
      const res = await fetch(`${down.url}/webhooks/documents`, { method: 'POST', ...signed(event) });
      return { status: res.status, retryAfter: res.headers.get('retry-after') };
    };
    let server: Awaited<ReturnType<typeof startDevServer>> | undefined;
    try {
      expect(await send()).toEqual({ status: 503, retryAfter: '5' });

      server = await startDevServer({ port });
      const late = new Client({ connection: await Connection.connect({ address: server.address }) });
      try {
        const workflowId = webhookWorkflowId('documents', event.id);
        expect(await runIdOf(workflowId, late)).toBeUndefined();
        expect((await send()).status).toBe(202);
        const runId = await runIdOf(workflowId, late);
        expect(runId).toEqual(expect.any(String));
        expect((await send()).status).toBe(200);
        expect(await runIdOf(workflowId, late)).toBe(runId);
      } finally {
        await late.connection.close();
      }
    } finally {
      await down.close();
      await server?.stop();
    }
  });
});

describe('webhook receiver process', () => {
  it('announces its URL and its operations URL in one JSON line, accepts webhooks and exits 0 on SIGTERM', async () => {
    const service = startService({
      name: 'webhooks',
      entry: 'src/webhooks/main.ts',
      env: {
        ...process.env,
        TEMPORAL_ADDRESS: testEnv.temporalAddress,
        WEBHOOK_PORT: '0',
        WEBHOOK_DOCUMENTS_SECRETS: `${newSecret},${oldSecret}`,
        LOG_LEVEL: 'warn',
      },
      logFile: join(TMP_DIR, 'logs', `webhooks-${process.pid}.log`),
      readyEvent: 'receiver.listening',
    });
    try {
      const ready = await service.ready;
      expect(ready).toEqual({
        event: 'receiver.listening',
        url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/) as string,
        opsUrl: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/) as string,
        metricsUrl: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/) as string,
      });
      expect(ready.metricsUrl).toBe(`${String(ready.opsUrl)}/metrics`);
      const ready200 = await fetch(`${String(ready.opsUrl)}/readyz`);
      expect(ready200.status).toBe(200);
      const delivery = signed(documentEvent(), { timestamp: Math.floor(Date.now() / 1000) });
      const res = await fetch(`${String(ready.url)}/webhooks/documents`, { method: 'POST', ...delivery });
      expect(res.status).toBe(202);
    } finally {
      await service.stop();
    }
    expect(await service.exited).toBe(0);
  });
});
