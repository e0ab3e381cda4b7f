import { createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startSandbox, type Sandbox, type SandboxCredentials } from '../../src/sandbox/server';

const webhookKeyBytes = Buffer.from('sandbox-test-webhook-key-32bytes', 'utf8');
const credentials: SandboxCredentials = {
  paymentsClientId: 'client-id',
  paymentsClientSecret: 'client-secret',
  documentsApiKey: 'docs-key',
  emailApiKey: 'email-key',
  crmApiKey: 'crm-key',
  inventoryApiKey: 'inventory-key',
  webhookSecret: `whsec_${webhookKeyBytes.toString('base64')}`,
};

const start = Date.parse('2030-01-01T00:00:00Z');
let clock = start;
let sandbox: Sandbox;
let base: string;

type Json = Record<string, unknown>;

/** jest's asymmetric matchers are typed `any`; wrapping them as `unknown` keeps lint's no-unsafe rules useful. */
const anyString = (): unknown => expect.any(String);
const matching = (pattern: RegExp): unknown => expect.stringMatching(pattern);
const containing = (text: string): unknown => expect.stringContaining(text);

async function call(path: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`${base}${path}`, init);
}

async function admin(method: string, path: string, body?: unknown): Promise<Response> {
  return call(path, {
    method,
    ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  });
}

async function body(res: Response): Promise<Json> {
  return (await res.json()) as Json;
}

async function token(): Promise<string> {
  const res = await call('/payments/oauth/token', {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from('client-id:client-secret').toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: 'grant_type=client_credentials',
  });
  return (await body(res)).access_token as string;
}

const payment = { amount: 1250, currency: 'EUR', orderId: 'order-1' };

async function pay(
  key: string | null,
  input: unknown = payment,
  extra: Record<string, string> = {},
  signal?: AbortSignal,
): Promise<Response> {
  return call('/payments/payments', {
    method: 'POST',
    headers: {
      authorization: `Bearer ${await token()}`,
      'content-type': 'application/json',
      ...(key === null ? {} : { 'x-correlation-id': key }),
      ...extra,
    },
    body: JSON.stringify(input),
    ...(signal ? { signal } : {}),
  });
}

async function generate(key: string, extra: Record<string, string> = {}): Promise<Response> {
  return call('/documents/generate', {
    method: 'POST',
    headers: { 'x-api-key': 'docs-key', 'content-type': 'application/json', 'idempotency-key': key, ...extra },
    body: JSON.stringify({ template: 'invoice', data: { n: 1 } }),
  });
}

async function sendEmail(extra: Record<string, string> = {}, input: unknown = undefined): Promise<Response> {
  return call('/email/send', {
    method: 'POST',
    headers: { authorization: 'Bearer email-key', 'content-type': 'application/json', ...extra },
    body: JSON.stringify(input ?? { to: 'ada@example.com', subject: 'Hi', body: 'Hello' }),
  });
}

async function crm(path: string, init: RequestInit = {}): Promise<Response> {
  return call(`/crm${path}`, {
    ...init,
    headers: {
      'x-api-key': 'crm-key',
      'content-type': 'application/json',
      ...(init.headers as Record<string, string>),
    },
  });
}

async function waitFor<T>(probe: () => Promise<T | undefined>, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function ledgerEffects(): Promise<string[]> {
  return ((await (await admin('GET', '/admin/ledger')).json()) as Json[]).map((e) => String(e.effect));
}

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
  at: number;
}

/** A webhook receiver whose answers are scripted per delivery. */
async function receiver(statuses: number[] = []): Promise<{ url: string; received: Received[]; server: Server }> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now() });
      res.writeHead(statuses.shift() ?? 204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`, received, server };
}

const receivers: Server[] = [];

beforeAll(async () => {
  sandbox = await startSandbox({ port: 0, credentials, now: () => clock });
  base = sandbox.url;
});

afterAll(async () => {
  await sandbox.close();
});

beforeEach(async () => {
  clock = start;
  await admin('POST', '/admin/reset');
});

afterEach(async () => {
  await Promise.all(receivers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

describe('sandbox server', () => {
  it('listens on a loopback URL and answers health checks', async () => {
    expect(base).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const res = await call('/healthz');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
  });

  it('serves /livez and /readyz like the operations ports of the other processes', async () => {
    expect([(await call('/livez')).status, await (await call('/readyz')).json()]).toEqual([
      200,
      { status: 'ready', process: 'sandbox', checks: {} },
    ]);
  });

  it('answers a request target that is not a URL, or a body over its cap, with a 4xx', async () => {
    expect((await call('/payments/%zz')).status).toBe(400);
    const big = await call('/admin/config', {
      method: 'PATCH',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ padding: 'x'.repeat(2 * 1024 * 1024) }),
    });
    expect(big.status).toBe(413);
  });

  it('answers 404 for unknown routes and 405 for a known path with the wrong method', async () => {
    expect((await call('/nope')).status).toBe(404);
    const res = await call('/payments/hello', { method: 'DELETE' });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('GET');
  });
});

describe('payments provider', () => {
  it('issues a bearer token for client credentials sent as HTTP Basic', async () => {
    const res = await call('/payments/oauth/token', {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from('client-id:client-secret').toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: 'grant_type=client_credentials',
    });
    expect(res.status).toBe(200);
    expect(await body(res)).toEqual({ access_token: anyString(), token_type: 'Bearer', expires_in: 300 });
  });

  it('issues a token for credentials in a form body', async () => {
    const res = await call('/payments/oauth/token', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials&client_id=client-id&client_secret=client-secret',
    });
    expect(res.status).toBe(200);
  });

  it('issues a token for credentials in a JSON body', async () => {
    const res = await call('/payments/oauth/token', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        grant_type: 'client_credentials',
        client_id: 'client-id',
        client_secret: 'client-secret',
      }),
    });
    expect(res.status).toBe(200);
  });

  it('rejects wrong client credentials with 401 invalid_client', async () => {
    const res = await call('/payments/oauth/token', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials&client_id=client-id&client_secret=wrong',
    });
    expect(res.status).toBe(401);
    expect(await body(res)).toEqual({ error: 'invalid_client' });
  });

  it('counts token requests in the admin stats', async () => {
    await token();
    await token();
    const stats = await body(await admin('GET', '/admin/stats'));
    expect(stats.tokenRequests).toBe(2);
    expect(stats.tokensIssued).toBe(2);
  });

  it('answers the connection test with a valid token', async () => {
    const res = await call('/payments/hello', { headers: { authorization: `Bearer ${await token()}` } });
    expect(await body(res)).toEqual({ ok: true, provider: 'payments' });
  });

  it('rejects a missing or unknown bearer token with 401 invalid_token', async () => {
    expect((await call('/payments/hello')).status).toBe(401);
    const res = await call('/payments/hello', { headers: { authorization: 'Bearer nope' } });
    expect(res.status).toBe(401);
    expect(await body(res)).toEqual({ error: 'invalid_token' });
  });

  it('expires tokens after the admin-configured lifetime', async () => {
    await admin('POST', '/admin/config', { tokenTtlSeconds: 2 });
    const tokenRes = await call('/payments/oauth/token', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials&client_id=client-id&client_secret=client-secret',
    });
    const { access_token: accessToken, expires_in: expiresIn } = await body(tokenRes);
    expect(expiresIn).toBe(2);
    const hello = (): Promise<Response> =>
      call('/payments/hello', { headers: { authorization: `Bearer ${String(accessToken)}` } });
    clock += 1999;
    expect((await hello()).status).toBe(200);
    clock += 1;
    expect((await hello()).status).toBe(401);
  });

  it('creates a payment with 201 and records it in the ledger', async () => {
    const res = await pay('corr-1');
    expect(res.status).toBe(201);
    const created = await body(res);
    expect(created).toEqual({
      id: matching(/^pay_/),
      status: 'succeeded',
      amount: 1250,
      currency: 'EUR',
      orderId: 'order-1',
      correlationId: 'corr-1',
      createdAt: new Date(start).toISOString(),
    });
    expect(sandbox.ledger()).toEqual([
      expect.objectContaining({
        seq: 1,
        provider: 'payments',
        effect: 'payment.created',
        idempotencyKey: 'corr-1',
        resourceId: created.id,
      }),
    ]);
  });

  it('replays the stored payment with 200 and idempotent-replayed for the same key and body', async () => {
    const first = await body(await pay('corr-1'));
    const again = await pay('corr-1');
    expect(again.status).toBe(200);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(await body(again)).toEqual(first);
    expect(sandbox.ledger()).toHaveLength(1);
  });

  it('rejects the same correlation id with a different body as idempotency_key_reused', async () => {
    await pay('corr-1');
    const res = await pay('corr-1', { ...payment, amount: 9999 });
    expect(res.status).toBe(422);
    expect(await body(res)).toMatchObject({ error: 'idempotency_key_reused' });
    expect(sandbox.ledger()).toHaveLength(1);
  });

  it('requires an x-correlation-id on payment creation', async () => {
    const res = await pay(null);
    expect(res.status).toBe(400);
    expect(await body(res)).toEqual({ error: 'missing_correlation_id' });
  });

  it('rejects an invalid payment body with 422 and details', async () => {
    const res = await pay('corr-1', { amount: -5, currency: 'EURO' });
    expect(res.status).toBe(422);
    const err = await body(res);
    expect(err.error).toBe('validation_error');
    expect((err.details as Json[]).map((d) => d.path)).toEqual(
      expect.arrayContaining(['amount', 'currency', 'orderId']),
    );
  });

  it('finds a payment by correlation id for reconciliation, and 404s an unknown one', async () => {
    const created = await body(await pay('corr-1'));
    const auth = { authorization: `Bearer ${await token()}` };
    const found = await call('/payments/payments?correlationId=corr-1', { headers: auth });
    expect(await body(found)).toEqual(created);
    const missing = await call('/payments/payments?correlationId=corr-2', { headers: auth });
    expect(missing.status).toBe(404);
    expect(await body(missing)).toEqual({ error: 'not_found' });
  });

  it('creates an idempotent refund and records it in the ledger', async () => {
    const created = await body(await pay('corr-1'));
    const refund = async (key: string, paymentId: unknown, amount: number): Promise<Response> =>
      call('/payments/refunds', {
        method: 'POST',
        headers: {
          authorization: `Bearer ${await token()}`,
          'content-type': 'application/json',
          'x-correlation-id': key,
        },
        body: JSON.stringify({ paymentId, amount }),
      });
    const res = await refund('ref-1', created.id, 250);
    expect(res.status).toBe(201);
    expect(await body(res)).toMatchObject({ id: matching(/^re_/), paymentId: created.id, amount: 250 });
    expect((await refund('ref-1', created.id, 250)).headers.get('idempotent-replayed')).toBe('true');
    expect((await refund('ref-2', 'pay_unknown', 1)).status).toBe(404);
    expect(await ledgerEffects()).toEqual(['payment.created', 'refund.created']);
  });

  it('refuses a refund larger than what remains refundable', async () => {
    const created = await body(await pay('corr-1'));
    const res = await call('/payments/refunds', {
      method: 'POST',
      headers: {
        authorization: `Bearer ${await token()}`,
        'content-type': 'application/json',
        'x-correlation-id': 'r',
      },
      body: JSON.stringify({ paymentId: created.id, amount: 1251 }),
    });
    expect(res.status).toBe(422);
    expect(await body(res)).toMatchObject({ error: 'amount_exceeds_refundable' });
  });
});

describe('documents provider', () => {
  it('rejects a missing API key with 401', async () => {
    const res = await call('/documents/generate', { method: 'POST', body: '{}' });
    expect(res.status).toBe(401);
  });

  it('queues a job that completes after the requested delay and records the document', async () => {
    const res = await generate('doc-1', { 'x-sandbox-job-ms': '100' });
    expect(res.status).toBe(202);
    const { jobId, status } = await body(res);
    expect(status).toBe('queued');
    const done = await waitFor(async () => {
      const job = await body(await call(`/documents/jobs/${String(jobId)}`, { headers: { 'x-api-key': 'docs-key' } }));
      return job.status === 'completed' ? job : undefined;
    });
    expect(done).toEqual({ jobId, status: 'completed', documentUrl: `${base}/documents/files/${String(jobId)}.pdf` });
    expect((await call(`/documents/files/${String(jobId)}.pdf`)).headers.get('content-type')).toBe('application/pdf');
    expect(sandbox.ledger()).toEqual([expect.objectContaining({ effect: 'document.generated', resourceId: jobId })]);
  });

  it('replays the same job for the same idempotency key', async () => {
    const first = await body(await generate('doc-1'));
    const again = await generate('doc-1');
    expect(again.status).toBe(200);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect((await body(again)).jobId).toBe(first.jobId);
  });

  it('requires an Idempotency-Key on generation', async () => {
    const res = await call('/documents/generate', {
      method: 'POST',
      headers: { 'x-api-key': 'docs-key', 'content-type': 'application/json' },
      body: JSON.stringify({ template: 'invoice', data: {} }),
    });
    expect(res.status).toBe(400);
    expect(await body(res)).toEqual({ error: 'missing_idempotency_key' });
  });

  it('answers 404 for an unknown job', async () => {
    const res = await call('/documents/jobs/job_nope', { headers: { 'x-api-key': 'docs-key' } });
    expect(res.status).toBe(404);
  });

  it('signs the completion webhook the Standard Webhooks way and the TurboDocx way', async () => {
    const hook = await receiver();
    receivers.push(hook.server);
    await admin('POST', '/admin/config', { webhook: { target: hook.url } });
    const { jobId } = await body(await generate('doc-1', { 'x-sandbox-job-ms': '0' }));
    const delivery = await waitFor(async () => Promise.resolve(hook.received[0]));
    const id = String(delivery.headers['webhook-id']);
    const timestamp = String(delivery.headers['webhook-timestamp']);
    const expected = createHmac('sha256', webhookKeyBytes)
      .update(`${id}.${timestamp}.${delivery.body}`)
      .digest('base64');
    expect(delivery.headers['webhook-signature']).toBe(`v1,${expected}`);
    expect(timestamp).toBe(String(Math.floor(clock / 1000)));
    expect(delivery.headers['x-turbodocx-signature']).toBe(
      createHmac('sha256', credentials.webhookSecret).update(delivery.body).digest('hex'),
    );
    const event = JSON.parse(delivery.body) as Json;
    expect(event).toEqual({
      id,
      type: 'document.completed',
      createdAt: anyString(),
      data: { jobId, documentUrl: containing(String(jobId)) },
    });
    expect(id).toMatch(/^evt_/);
  });

  it('uses a secret without the whsec_ prefix as raw utf8 bytes', async () => {
    const hook = await receiver();
    receivers.push(hook.server);
    const other = await startSandbox({
      credentials: { ...credentials, webhookSecret: 'plain-secret' },
      webhookTarget: hook.url,
    });
    try {
      await fetch(`${other.url}/documents/generate`, {
        method: 'POST',
        headers: { 'x-api-key': 'docs-key', 'idempotency-key': 'k', 'x-sandbox-job-ms': '0' },
        body: JSON.stringify({ template: 't', data: {} }),
      });
      const d = await waitFor(async () => Promise.resolve(hook.received[0]));
      const signed = `${String(d.headers['webhook-id'])}.${String(d.headers['webhook-timestamp'])}.${d.body}`;
      expect(d.headers['webhook-signature']).toBe(
        `v1,${createHmac('sha256', 'plain-secret').update(signed).digest('base64')}`,
      );
    } finally {
      await other.close();
    }
  });

  it('retries webhook delivery with backoff until the target answers 2xx', async () => {
    const hook = await receiver([500, 503]);
    receivers.push(hook.server);
    await admin('POST', '/admin/config', { webhook: { target: hook.url, retryBackoffMs: 10 } });
    await generate('doc-1', { 'x-sandbox-job-ms': '0' });
    await waitFor(async () => Promise.resolve(hook.received[2]));
    const deliveries = (await (await admin('GET', '/admin/webhooks')).json()) as Json[];
    expect(deliveries.map((d) => [d.attempt, d.status, d.delivered])).toEqual([
      [1, 500, false],
      [2, 503, false],
      [3, 204, true],
    ]);
    expect(new Set(hook.received.map((r) => r.headers['webhook-id'])).size).toBe(1);
    const stats = await body(await admin('GET', '/admin/stats'));
    expect(stats.webhookDeliveries).toEqual({ attempts: 3, delivered: 1, failed: 2 });
  });

  it('gives up on an unreachable webhook target after the bounded number of attempts', async () => {
    const hook = await receiver();
    await new Promise((r) => hook.server.close(r));
    await admin('POST', '/admin/config', { webhook: { target: hook.url, retryBackoffMs: 1, maxAttempts: 3 } });
    await generate('doc-1', { 'x-sandbox-job-ms': '0' });
    const deliveries = await waitFor(async () => {
      const list = (await (await admin('GET', '/admin/webhooks')).json()) as Json[];
      return list.length === 3 ? list : undefined;
    });
    expect(deliveries.every((d) => d.status === null && d.delivered === false)).toBe(true);
  });

  it('delivers the same webhook twice when duplication is switched on', async () => {
    const hook = await receiver();
    receivers.push(hook.server);
    await admin('POST', '/admin/config', { webhook: { target: hook.url, duplicate: true } });
    await generate('doc-1', { 'x-sandbox-job-ms': '0' });
    await waitFor(async () => Promise.resolve(hook.received[1]));
    expect(hook.received[0]?.body).toBe(hook.received[1]?.body);
    expect(hook.received[0]?.headers['webhook-id']).toBe(hook.received[1]?.headers['webhook-id']);
  });

  it('delays webhook delivery by lateMs after the job completes', async () => {
    const hook = await receiver();
    receivers.push(hook.server);
    await admin('POST', '/admin/config', { webhook: { target: hook.url, lateMs: 300 } });
    const sent = Date.now();
    const { jobId } = await body(await generate('doc-1', { 'x-sandbox-job-ms': '0' }));
    const delivery = await waitFor(async () => Promise.resolve(hook.received[0]));
    expect(delivery.at - sent).toBeGreaterThanOrEqual(280);
    const job = await body(await call(`/documents/jobs/${String(jobId)}`, { headers: { 'x-api-key': 'docs-key' } }));
    expect(job.status).toBe('completed');
  });
});

describe('email provider', () => {
  it('accepts a message with 202 and records it in the ledger', async () => {
    const res = await sendEmail();
    expect(res.status).toBe(202);
    const { messageId } = await body(res);
    expect(messageId).toMatch(/^msg_/);
    expect(sandbox.ledger()).toEqual([
      expect.objectContaining({
        provider: 'email',
        effect: 'email.sent',
        resourceId: messageId,
        request: { to: 'ada@example.com', subject: 'Hi' },
      }),
    ]);
  });

  it('rejects a wrong API key with 401', async () => {
    const res = await call('/email/send', { method: 'POST', headers: { authorization: 'Bearer wrong' }, body: '{}' });
    expect(res.status).toBe(401);
  });

  it('deduplicates sends that carry the same Idempotency-Key', async () => {
    const first = await body(await sendEmail({ 'idempotency-key': 'mail-1' }));
    const again = await sendEmail({ 'idempotency-key': 'mail-1' });
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(await body(again)).toEqual(first);
    expect(sandbox.ledger()).toHaveLength(1);
  });

  it('sends a batch and records one ledger entry per message', async () => {
    const messages = [1, 2, 3].map((n) => ({ to: `u${n}@example.com`, subject: 's', body: 'b' }));
    const res = await call('/email/batch', {
      method: 'POST',
      headers: { authorization: 'Bearer email-key', 'content-type': 'application/json' },
      body: JSON.stringify({ messages }),
    });
    expect(res.status).toBe(202);
    expect((await body(res)).messageIds).toHaveLength(3);
    expect(await ledgerEffects()).toEqual(['email.sent', 'email.sent', 'email.sent']);
  });

  it('rejects a batch of more than 100 messages', async () => {
    const messages = Array.from({ length: 101 }, () => ({ to: 'a@example.com', subject: 's', body: 'b' }));
    const res = await call('/email/batch', {
      method: 'POST',
      headers: { authorization: 'Bearer email-key' },
      body: JSON.stringify({ messages }),
    });
    expect(res.status).toBe(422);
  });

  it('answers 429 with Retry-After and rate-limit headers once the window is full, then frees up', async () => {
    await admin('POST', '/admin/config', { emailRateLimit: { limit: 3, windowMs: 1000 } });
    for (let i = 0; i < 3; i += 1) expect((await sendEmail()).status).toBe(202);
    clock += 400;
    const limited = await sendEmail();
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('1');
    expect(limited.headers.get('x-ratelimit-limit')).toBe('3');
    expect(limited.headers.get('x-ratelimit-remaining')).toBe('0');
    expect(limited.headers.get('x-ratelimit-reset')).toBe(String(Math.ceil((start + 1000) / 1000)));
    clock = start + 1000;
    expect((await sendEmail()).status).toBe(202);
    const stats = await body(await admin('GET', '/admin/stats'));
    expect(stats.rateLimited).toBe(1);
    expect(stats.emailRateLimited).toBe(1);
    expect(sandbox.ledger()).toHaveLength(4);
  });

  it('allows 100 requests per minute by default', async () => {
    const config = await body(await admin('GET', '/admin/config'));
    expect(config.emailRateLimit).toEqual({ limit: 100, windowMs: 60_000 });
  });
});

describe('crm provider', () => {
  it('returns the same fake customer for the same id every time', async () => {
    const a = await body(await crm('/customers/cus_0007'));
    const b = await body(await crm('/customers/cus_0007'));
    expect(a).toEqual(b);
    expect(a).toEqual({
      id: 'cus_0007',
      name: anyString(),
      email: containing('@'),
      tier: matching(/^(free|pro|enterprise)$/),
    });
  });

  it('answers 404 for ids with the reserved missing prefix', async () => {
    expect((await crm('/customers/missing_1')).status).toBe(404);
  });

  it('rejects a wrong API key with 401', async () => {
    expect((await call('/crm/customers/cus_0001', { headers: { 'x-api-key': 'nope' } })).status).toBe(401);
  });

  it('paginates over 250 customers with opaque cursors', async () => {
    const ids: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const query: string = cursor === null ? '?limit=100' : `?limit=100&cursor=${cursor}`;
      const page = await body(await crm(`/customers${query}`));
      ids.push(...(page.items as Json[]).map((c) => String(c.id)));
      cursor = page.nextCursor as string | null;
      pages += 1;
    } while (cursor !== null);
    expect(pages).toBe(3);
    expect(ids).toHaveLength(250);
    expect(new Set(ids).size).toBe(250);
    expect(ids[0]).toBe('cus_0001');
  });

  it('rejects a malformed cursor with 400', async () => {
    expect((await crm('/customers?cursor=garbage')).status).toBe(400);
  });

  it('updates a customer idempotently and records it in the ledger', async () => {
    const patch = (key: string, notes: string): Promise<Response> =>
      crm('/customers/cus_0002', {
        method: 'PATCH',
        headers: { 'idempotency-key': key },
        body: JSON.stringify({ notes, tier: 'pro' }),
      });
    const res = await patch('p-1', 'VIP');
    expect(await body(res)).toMatchObject({ id: 'cus_0002', notes: 'VIP', tier: 'pro' });
    expect((await patch('p-1', 'VIP')).headers.get('idempotent-replayed')).toBe('true');
    expect((await patch('p-1', 'other')).status).toBe(422);
    expect(await body(await crm('/customers/cus_0002'))).toMatchObject({ notes: 'VIP', tier: 'pro' });
    expect(sandbox.ledger()).toEqual([
      expect.objectContaining({ effect: 'customer.updated', resourceId: 'cus_0002', idempotencyKey: 'p-1' }),
    ]);
  });

  it('fails reads deterministically at the configured failure rate', async () => {
    await admin('POST', '/admin/config', { crm: { failureRate: 0.5 } });
    const statuses: number[] = [];
    for (let i = 0; i < 4; i += 1) statuses.push((await crm('/customers/cus_0001')).status);
    expect(statuses).toEqual([200, 503, 200, 503]);
  });

  it('slows reads down by the configured latency', async () => {
    await admin('POST', '/admin/config', { crm: { latencyMs: 200 } });
    const t0 = Date.now();
    await crm('/customers/cus_0001');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(190);
  });
});

describe('fault injection', () => {
  it('latency delays the answer then behaves normally', async () => {
    const t0 = Date.now();
    const res = await pay('corr-1', payment, { 'x-sandbox-fault': 'latency;ms=200' });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(190);
    expect(res.status).toBe(201);
    expect(sandbox.ledger()).toHaveLength(1);
  });

  it('status answers the given code with a Retry-After and applies no effect', async () => {
    const res = await pay('corr-1', payment, { 'x-sandbox-fault': 'status;code=503;retryAfter=2' });
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('2');
    expect(await body(res)).toMatchObject({ error: 'sandbox_fault' });
    expect(sandbox.ledger()).toHaveLength(0);
  });

  it('status can carry Retry-After as an HTTP-date', async () => {
    const res = await pay('corr-1', payment, { 'x-sandbox-fault': 'status;code=503;retryAfterDate=30' });
    expect(res.headers.get('retry-after')).toBe(new Date(start + 30_000).toUTCString());
  });

  it('rate-limit answers 429 with Retry-After', async () => {
    const res = await crm('/customers/cus_0001', { headers: { 'x-sandbox-fault': 'rate-limit;retryAfter=7' } });
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('7');
  });

  it('reset destroys the connection before any effect', async () => {
    await expect(pay('corr-1', payment, { 'x-sandbox-fault': 'reset' })).rejects.toThrow();
    expect(sandbox.ledger()).toHaveLength(0);
  });

  it('commit-then-hang applies the effect and never answers', async () => {
    await expect(
      pay('corr-1', payment, { 'x-sandbox-fault': 'commit-then-hang' }, AbortSignal.timeout(300)),
    ).rejects.toThrow();
    expect(await ledgerEffects()).toEqual(['payment.created']);
    const retry = await pay('corr-1');
    expect(retry.status).toBe(200);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
  });

  it('commit-then-reset applies the effect then drops the connection', async () => {
    await expect(pay('corr-1', payment, { 'x-sandbox-fault': 'commit-then-reset' })).rejects.toThrow();
    expect(await ledgerEffects()).toEqual(['payment.created']);
  });

  it('commit-then-504 applies the effect and answers 504 after a delay', async () => {
    const t0 = Date.now();
    const res = await pay('corr-1', payment, { 'x-sandbox-fault': 'commit-then-504;ms=150' });
    expect(res.status).toBe(504);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
    expect(await ledgerEffects()).toEqual(['payment.created']);
  });

  it('malformed-json answers 200 with a truncated JSON body', async () => {
    const res = await pay('corr-1', payment, { 'x-sandbox-fault': 'malformed-json' });
    expect(res.status).toBe(200);
    await expect(res.json()).rejects.toThrow();
    expect(sandbox.ledger()).toHaveLength(1);
  });

  it('schema-violation answers 200 with JSON of the wrong shape', async () => {
    const res = await pay('corr-1', payment, { 'x-sandbox-fault': 'schema-violation' });
    expect(await body(res)).toEqual({ unexpected: true });
  });

  it('error-payload answers 200 with ok:false', async () => {
    const res = await pay('corr-1', payment, { 'x-sandbox-fault': 'error-payload;message=card_declined' });
    expect(res.status).toBe(200);
    expect(await body(res)).toEqual({ ok: false, error: 'card_declined' });
    expect(sandbox.ledger()).toHaveLength(0);
  });

  it('graphql-errors answers 200 with data:null and errors', async () => {
    const res = await crm('/customers/cus_0001', { headers: { 'x-sandbox-fault': 'graphql-errors' } });
    expect(await body(res)).toEqual({ data: null, errors: [{ message: anyString() }] });
  });

  it('html-error answers a proxy error page as text/html', async () => {
    const res = await crm('/customers/cus_0001', { headers: { 'x-sandbox-fault': 'html-error' } });
    expect(res.status).toBe(502);
    expect(res.headers.get('content-type')).toBe('text/html');
    expect(await res.text()).toContain('<title>502 Bad Gateway</title>');
  });

  it('oversized streams a huge JSON body of the requested size', async () => {
    const res = await crm('/customers/cus_0001', { headers: { 'x-sandbox-fault': 'oversized;bytes=3000000' } });
    expect(res.headers.get('content-length')).toBe('3000000');
    expect((await res.arrayBuffer()).byteLength).toBe(3_000_000);
  });

  it('redirect answers 302 with a Location', async () => {
    const res = await crm('/customers/cus_0001', {
      headers: { 'x-sandbox-fault': 'redirect;location=http://127.0.0.1:1/elsewhere' },
      redirect: 'manual',
    });
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe('http://127.0.0.1:1/elsewhere');
  });

  it('rejects an unknown fault name with 400', async () => {
    const res = await crm('/customers/cus_0001', { headers: { 'x-sandbox-fault': 'gremlins' } });
    expect(res.status).toBe(400);
    expect(await body(res)).toMatchObject({ error: 'invalid_fault' });
  });

  it('applies an admin fault rule to matching routes for the given number of times', async () => {
    const rule = await admin('POST', '/admin/faults', {
      method: 'get',
      path: '/crm',
      fault: 'status',
      params: { code: 500 },
      times: 2,
    });
    expect(rule.status).toBe(201);
    const statuses: number[] = [];
    for (let i = 0; i < 3; i += 1) statuses.push((await crm('/customers/cus_0001')).status);
    expect(statuses).toEqual([500, 500, 200]);
    const stats = await body(await admin('GET', '/admin/stats'));
    expect(stats.faultsInjected).toEqual({ status: 2 });
  });

  it('stops applying admin fault rules after DELETE /admin/faults', async () => {
    await admin('POST', '/admin/faults', { path: '/email/send', fault: 'rate-limit;retryAfter=3' });
    expect((await sendEmail()).status).toBe(429);
    await admin('DELETE', '/admin/faults');
    expect((await sendEmail()).status).toBe(202);
  });
});

describe('admin', () => {
  it('counts requests per route', async () => {
    await crm('/customers/cus_0001');
    await crm('/customers/cus_0002');
    const stats = await body(await admin('GET', '/admin/stats'));
    expect(stats.requests).toEqual({ 'GET /crm/customers/:id': 2 });
  });

  it('clears the ledger and the idempotency stores on DELETE /admin/ledger', async () => {
    const first = await body(await pay('corr-1'));
    await admin('DELETE', '/admin/ledger');
    expect(sandbox.ledger()).toEqual([]);
    const again = await pay('corr-1');
    expect(again.status).toBe(201);
    expect((await body(again)).id).not.toBe(first.id);
    expect(sandbox.ledger()[0]?.seq).toBe(1);
  });

  it('restores default settings on POST /admin/reset', async () => {
    await admin('POST', '/admin/config', { tokenTtlSeconds: 5, jobMs: 10 });
    await admin('POST', '/admin/reset');
    const config = await body(await admin('GET', '/admin/config'));
    expect(config).toMatchObject({ tokenTtlSeconds: 300, jobMs: 1500 });
  });

  it('rejects unknown config fields with 422', async () => {
    expect((await admin('POST', '/admin/config', { tokenTTL: 5 })).status).toBe(422);
  });
});
