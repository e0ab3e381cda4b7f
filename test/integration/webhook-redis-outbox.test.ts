import { randomBytes } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { Client, Connection, WorkflowNotFoundError } from '@temporalio/client';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { EncryptionCodec, generateEncryptionKey, parseEncryptionKeys } from '../../src/codec/encryption-codec';
import { createLogger } from '../../src/observability/logger';
import { standardSignature, turbodocxSignature } from '../../src/sandbox/webhooks';
import { documentsWebhooks } from '../../src/webhooks/providers';
import { RedisWebhookOutbox, redisConnection, type RedisOutboxOptions } from '../../src/webhooks/redis-outbox';
import { startReceiver, type ReceiverOptions } from '../../src/webhooks/server';
import { TemporalStarter, webhookWorkflowId } from '../../src/webhooks/temporal-starter';
import type { WebhookEventInput } from '../../src/workflows/process-webhook-event.workflow';
import { testEnv, uniqueId } from '../support/temporal';
import { waitFor } from '../support/wait';

// The real Redis of this machine, under this file's own key prefix (every key removed after).
const redisUrl = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = `webhookack-test-${Date.now().toString(36)}`;
const secret = `whsec_${randomBytes(24).toString('base64')}`;
const logLines: string[] = [];
const logger = createLogger({ name: 'outbox', level: 'info', destination: { write: (line) => logLines.push(line) } });
// No worker polls this queue: a started workflow is all these tests need from Temporal.
const taskQueue = uniqueId('webhooks-redis-outbox-idle');
let connection: Connection;
let client: Client;
const outboxes: RedisWebhookOutbox[] = [];

function outbox(queueName: string, overrides: Partial<RedisOutboxOptions> = {}): RedisWebhookOutbox {
  const created = new RedisWebhookOutbox({ url: redisUrl, prefix, queueName, retryBaseMs: 50, logger, ...overrides });
  outboxes.push(created);
  return created;
}

function starter(address = testEnv.temporalAddress, startTimeoutMs?: number): TemporalStarter {
  return new TemporalStarter({ address, taskQueue, security: null, startTimeoutMs });
}

beforeAll(async () => {
  connection = await Connection.connect({ address: testEnv.temporalAddress });
  client = new Client({ connection });
});

afterAll(async () => {
  for (const o of outboxes) await o.close({ force: true }).catch(() => undefined);
  // Every key under this file's own prefix, and only those.
  const redis = new Redis(redisUrl);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
      if (keys.length) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
  await connection.close();
});

function event(overrides: Partial<WebhookEventInput> = {}): WebhookEventInput {
  const jobId = `job_${randomBytes(6).toString('hex')}`;
  return {
    provider: 'documents',
    eventId: `evt_${randomBytes(8).toString('hex')}`,
    type: 'document.completed',
    createdAt: new Date().toISOString(),
    data: { jobId, documentUrl: `http://127.0.0.1:9/documents/files/${jobId}.pdf` },
    ...overrides,
  };
}

function signed(e: WebhookEventInput): { body: string; headers: Record<string, string> } {
  const timestamp = Math.floor(Date.now() / 1000);
  const body = JSON.stringify({ id: e.eventId, type: e.type, createdAt: e.createdAt, data: e.data });
  return {
    body,
    headers: {
      'content-type': 'application/json',
      'webhook-id': e.eventId,
      'webhook-timestamp': String(timestamp),
      'webhook-signature': standardSignature(secret, e.eventId, timestamp, body),
      'x-turbodocx-signature': turbodocxSignature(secret, body),
    },
  };
}

function receiverOptions(overrides: Partial<ReceiverOptions>): ReceiverOptions {
  return {
    providers: [{ definition: documentsWebhooks, secrets: [secret] }],
    temporal: { address: testEnv.temporalAddress, taskQueue },
    logger,
    ...overrides,
  };
}

async function runIdOf(workflowId: string): Promise<string | undefined> {
  try {
    return (await client.workflow.getHandle(workflowId).describe()).runId;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw err;
  }
}

/** A port where nothing listens: Temporal unreachable. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A "Temporal" that accepts connections and never answers: a start hangs until its budget runs out. */
async function silentServer(): Promise<{ address: string; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    address: `127.0.0.1:${port}`,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

describe('webhook receiver with the Redis outbox (BullMQ)', () => {
  it('acknowledges while Temporal is down, keeps the event in Redis through a receiver restart, and the next relay starts it', async () => {
    const queueName = 'handoff';
    const first = outbox(queueName);
    await first.ensureSchema();
    const e = event();
    const workflowId = webhookWorkflowId('documents', e.eventId);
    const down = await startReceiver(
      receiverOptions({ outbox: first, temporal: { address: `127.0.0.1:${await closedPort()}`, taskQueue } }),
    );
    try {
      const res = await fetch(`${down.url}/webhooks/documents`, { method: 'POST', ...signed(e) });
      expect(res.status).toBe(202);
      // The relay retries (unbounded, backoff capped): the event stays in Redis meanwhile.
      await waitFor(
        'two refused relay attempts',
        () => logLines.filter((l) => l.includes(workflowId)).length >= 2,
        20_000,
      );
    } finally {
      await down.close();
    }
    expect(first.stats()).toMatchObject({ stored: 1, relayed: 0, parked: 0 });
    expect(await runIdOf(workflowId)).toBeUndefined();

    // Another receiver process on the same queue: its relay finds the stored event and starts it.
    const second = outbox(queueName);
    const up = await startReceiver(receiverOptions({ outbox: second }));
    try {
      await waitFor('the relay to drain the outbox', async () => (await second.pending()) === 0, 30_000);
      await waitFor('the workflow', async () => (await runIdOf(workflowId)) !== undefined, 10_000);
      expect(second.stats()).toMatchObject({ relayed: 1, parked: 0 });
    } finally {
      await up.close();
    }
  });

  it('processes a delivery sent twice, and again after it was relayed, once', async () => {
    const o = outbox('duplicates');
    await o.ensureSchema();
    const receiver = await startReceiver(receiverOptions({ outbox: o }));
    try {
      const e = event();
      const workflowId = webhookWorkflowId('documents', e.eventId);
      const send = async () =>
        (await fetch(`${receiver.url}/webhooks/documents`, { method: 'POST', ...signed(e) })).status;
      expect(await Promise.all([send(), send()])).toEqual([202, 202]);
      await waitFor('the relay to drain the outbox', async () => (await o.pending()) === 0, 30_000);
      const runId = await runIdOf(workflowId);
      expect(runId).toEqual(expect.any(String));
      // Relayed already (the job removed): queued again, and its start finds the workflow ID taken.
      expect(await send()).toBe(202);
      await waitFor('the relay to drain the outbox', async () => (await o.pending()) === 0, 30_000);
      await waitFor('the redelivery relayed', () => o.stats().relayed + o.stats().relayDuplicates >= 2, 10_000);
      expect(await runIdOf(workflowId)).toBe(runId);
      expect(o.stats()).toMatchObject({ relayed: 1, parked: 0 });
      expect(o.stats().relayDuplicates).toBeGreaterThanOrEqual(1);
    } finally {
      await receiver.close();
    }
  });

  it('a relay that dies while starting leaves its events to the next relay (stalled-job recovery)', async () => {
    const queueName = 'crash';
    const silent = await silentServer();
    const hanging = starter(silent.address, 8_000);
    const crashed = outbox(queueName, { lockDurationMs: 1_000, stalledIntervalMs: 500 });
    await crashed.ensureSchema();
    const events = Array.from({ length: 5 }, () => event());
    for (const e of events) {
      expect(await crashed.put(e, webhookWorkflowId('documents', e.eventId))).toMatchObject({ kind: 'started' });
    }
    crashed.startRelay((e) => hanging.start(e));
    const observer = new Queue(queueName, { connection: redisConnection(redisUrl), prefix });
    try {
      await waitFor('the doomed relay to hold the events', async () => (await observer.getActiveCount()) === 5, 10_000);
      await crashed.close({ force: true }); // as a crash: no job finished, none handed back

      const next = outbox(queueName, { lockDurationMs: 1_000, stalledIntervalMs: 500 });
      const real = starter();
      next.startRelay((e) => real.start(e));
      try {
        await waitFor('every event relayed by the next relay', () => next.stats().relayed === 5, 30_000);
        for (const e of events)
          expect(await runIdOf(webhookWorkflowId('documents', e.eventId))).toEqual(expect.any(String));
        await waitFor('the outbox empty', async () => (await next.pending()) === 0, 10_000);
      } finally {
        await next.close();
        await real.close();
      }
    } finally {
      await observer.close();
      await silent.close();
      await hanging.close();
    }
  });

  it('parks a start Temporal refuses for good, and relays the others meanwhile', async () => {
    const o = outbox('poison', { concurrency: 1 });
    await o.ensureSchema();
    const real = starter();
    // Over Temporal's 2 MB payload limit: INVALID_ARGUMENT, a refusal no retry fixes.
    const poison = event({ data: { jobId: 'job_poison', documentUrl: `http://127.0.0.1:9/${'x'.repeat(2_500_000)}` } });
    const poisonId = webhookWorkflowId('documents', poison.eventId);
    const good = Array.from({ length: 10 }, () => event());
    await o.put(poison, poisonId);
    for (const e of good) await o.put(e, webhookWorkflowId('documents', e.eventId));
    o.startRelay((e) => real.start(e));
    try {
      await waitFor('the good events relayed', () => o.stats().relayed === good.length, 30_000);
      await waitFor('the poison event parked', async () => (await o.parkedCount()) === 1, 10_000);
      expect(o.stats().parked).toBe(1);
      expect(await o.pending()).toBe(0);
      expect(await runIdOf(poisonId)).toBeUndefined();
      expect(logLines.some((l) => l.includes('"webhook.outbox_parked"') && l.includes(poisonId))).toBe(true);
      // Secrets and payloads are never logged: the poison's body is not in the log.
      expect(logLines.some((l) => l.includes('x'.repeat(1000)))).toBe(false);
    } finally {
      await o.close();
      await real.close();
    }
  });

  it('paces the relay by the receiver load, and under constant load still starts every event (at its bound)', async () => {
    // The quiet window longer than the bound: while the load goes on, every held start goes at its bound.
    const o = outbox('paced', { relayMaxDeferMs: 300, relayQuietMs: 2_000 });
    await o.ensureSchema();
    const real = starter();
    o.startRelay((e) => real.start(e));
    const sent: WebhookEventInput[] = [];
    let loading = true;
    // Two enqueuers that never pause for the quiet window: constant load.
    const enqueuer = async () => {
      while (loading) {
        const e = event();
        sent.push(e);
        expect(await o.put(e, webhookWorkflowId('documents', e.eventId))).toMatchObject({ kind: 'started' });
        await new Promise((r) => setTimeout(r, 5));
      }
    };
    const load = Promise.all([enqueuer(), enqueuer()]);
    try {
      // The relay is not starved: it starts events while the load goes on.
      await waitFor('starts relayed during the load', () => o.stats().relayed >= 20, 60_000);
    } finally {
      loading = false;
      await load;
    }
    try {
      await waitFor('every event relayed', () => o.stats().relayed === sent.length, 60_000);
      await waitFor('the outbox empty', async () => (await o.pending()) === 0, 10_000);
      const pacing = o.pacing();
      expect(pacing.deferred).toBeGreaterThan(0);
      expect(pacing.deferBoundReached).toBe(pacing.deferred);
      expect(pacing.waiting).toBe(0);
      expect(o.stats()).toMatchObject({ stored: sent.length, relayDuplicates: 0, parked: 0 });
      for (const e of sent.slice(0, 5).concat(sent.slice(-5)))
        expect(await runIdOf(webhookWorkflowId('documents', e.eventId))).toEqual(expect.any(String));
    } finally {
      await o.close();
      await real.close();
    }
  });

  it('warns at start when Redis runs without AOF', async () => {
    const probe = new Redis(redisUrl);
    const aof = /^aof_enabled:(\d)/m.exec(await probe.info('persistence'))?.[1];
    probe.disconnect();
    const o = outbox('durability');
    await o.ensureSchema();
    const warned = logLines.some((l) => l.includes('"webhook.outbox_not_durable"'));
    expect(warned).toBe(aof !== '1');
  });
});

describe('the Redis outbox with payload encryption', () => {
  it('stores each event encrypted (its fields not readable in Redis) and relays it decoded; a relay without the key keeps it', async () => {
    const dataConverter = { payloadCodecs: [new EncryptionCodec(parseEncryptionKeys(generateEncryptionKey('rk')))] };
    const queueName = uniqueId('encrypted');
    const e = event();
    const workflowId = webhookWorkflowId('documents', e.eventId);
    // A relay without the key first: the job cannot be decoded, so it is retried, never started or dropped.
    const keyless = outbox(queueName);
    const encrypted = outbox(queueName, { dataConverter });
    expect(await encrypted.put(e, workflowId)).toEqual({ kind: 'started', workflowId });
    const redis = new Redis(redisUrl);
    try {
      const stored = JSON.stringify(await redis.hgetall(`${prefix}:${queueName}:${workflowId}`));
      expect(stored).toContain('$payload');
      // The job ID is the workflow ID (the event's ID, in Temporal's clear too); the event itself is not readable.
      for (const clear of [e.data.jobId as string, 'document.completed', e.createdAt])
        expect(stored).not.toContain(clear);
    } finally {
      redis.disconnect();
    }
    const refusedStarts: WebhookEventInput[] = [];
    keyless.startRelay((got) => {
      refusedStarts.push(got);
      return Promise.resolve({ kind: 'started', workflowId });
    });
    await waitFor('the keyless relay to try it', () => keyless.stats().relayFailures > 0, 30_000, 50);
    await keyless.close();
    expect(refusedStarts).toEqual([]);
    expect(logLines.some((l) => l.includes('stored event cannot be decoded'))).toBe(true);
    // The relay with the key starts it, with the event as it was put.
    const started: WebhookEventInput[] = [];
    encrypted.startRelay((got) => {
      started.push(got);
      return Promise.resolve({ kind: 'started', workflowId });
    });
    await waitFor('the event relayed', () => started.length === 1, 60_000, 50);
    expect(started).toEqual([e]);
  });
});
