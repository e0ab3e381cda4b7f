import { randomBytes } from 'node:crypto';
import { crm, type Customer } from '../../src/integrations/crm/crm.integration';
import { documents, type DocumentJob } from '../../src/integrations/documents/documents.integration';
import { email } from '../../src/integrations/email/email.integration';
import type { CallInput, CallOutput, EndpointSpec, Integration } from '../../src/integrations/kit/define';
import { FailureType } from '../../src/integrations/kit/failures';
import { IntegrationEngine } from '../../src/integrations/runtime/engine';
import { captureLogs } from '../support/log-capture';
import { sandboxAdmin } from '../support/sandbox';
import { testLogger } from '../support/stack';
import { uniqueId } from '../support/temporal';
import { failureOf } from '../support/failures';

/**
 * The documents, email and CRM declarations against the sandbox over real HTTP, through the same
 * runtime the activities use: one call per attempt, effects checked in the sandbox's ledger.
 */

/** The sandbox's defaults (src/sandbox/config.ts), restored after the tests that change them. */
const DEFAULT_JOB_MS = 1_500;
const DEFAULT_EMAIL_RATE_LIMIT = { limit: 100, windowMs: 60_000 };

const runtime = new IntegrationEngine({ logger: testLogger().child({ component: 'providers-test' }) });

afterEach(() => sandboxAdmin.clearFaults());
afterAll(() => runtime.close());

/** One attempt at an endpoint, typed from its declaration. */
async function call<E extends Record<string, EndpointSpec>, K extends keyof E & string>(
  integration: Integration<E>,
  endpoint: K,
  input: CallInput<E[K]>,
  rt: IntegrationEngine = runtime,
): Promise<CallOutput<E[K]>> {
  return (await rt.call(integration, endpoint, input, { attempt: 1 })) as CallOutput<E[K]>;
}

async function effectsOf(key: string) {
  return (await sandboxAdmin.ledger()).filter((e) => e.idempotencyKey === key);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('documents', () => {
  beforeAll(() => sandboxAdmin.config({ jobMs: 200 }));
  afterAll(() => sandboxAdmin.config({ jobMs: DEFAULT_JOB_MS }));

  const request = (key: string) => ({ key, body: { template: 'invoice', data: { orderId: key, total: 4200 } } });

  /** Polls getJob every 100 ms until the job leaves queued/processing, for at most 5 s. */
  async function settled(jobId: string): Promise<DocumentJob> {
    const deadline = Date.now() + 5_000;
    for (;;) {
      const job = await call(documents, 'getJob', { params: { jobId } });
      if (job.status === 'completed' || job.status === 'failed') return job;
      if (Date.now() > deadline) throw new Error(`job ${jobId} still ${job.status} after 5 s`);
      await sleep(100);
    }
  }

  it('accepts a generation as a queued job that getJob later reports completed with a downloadable document', async () => {
    const accepted = await call(documents, 'generate', request(uniqueId('doc')));
    expect(accepted).toEqual({ jobId: expect.stringMatching(/^job_/) as string, status: 'queued' });

    const job = await settled(accepted.jobId);
    expect(job).toMatchObject({
      jobId: accepted.jobId,
      status: 'completed',
      documentUrl: expect.stringMatching(/\.pdf$/) as string,
    });
    const file = await fetch(job.documentUrl!);
    expect(file.status).toBe(200);
    expect(file.headers.get('content-type')).toBe('application/pdf');
  });

  it('returns the first job for a generation resent with the same key, and renders the document once', async () => {
    const key = uniqueId('doc-resend');
    const first = await call(documents, 'generate', request(key));
    const second = await call(documents, 'generate', request(key));
    expect(second.jobId).toBe(first.jobId);

    await settled(first.jobId);
    const effects = await effectsOf(key);
    expect(effects).toHaveLength(1);
    expect(effects[0]).toMatchObject({ effect: 'document.generated', resourceId: first.jobId });
  });
});

describe('email', () => {
  afterEach(() => sandboxAdmin.config({ emailRateLimit: DEFAULT_EMAIL_RATE_LIMIT }));

  const message = (to = 'someone@example.com') => ({ to, subject: 'Your receipt', body: 'Thank you.' });

  it('sends one message and the provider records one delivery under its key', async () => {
    const key = uniqueId('mail');
    const accepted = await call(email, 'send', { key, body: message() });
    const effects = await effectsOf(key);
    expect(effects).toHaveLength(1);
    expect(effects[0]).toMatchObject({ effect: 'email.sent', resourceId: accepted.messageId });
  });

  it('sends a batch and the provider records one delivery per message under the batch key', async () => {
    const key = uniqueId('mail-batch');
    const messages = [message('a@example.com'), message('b@example.com'), message('c@example.com')];
    const accepted = await call(email, 'sendBatch', { key, body: { messages } });
    expect(accepted.messageIds).toHaveLength(3);
    const effects = await effectsOf(key);
    expect(effects.map((e) => e.resourceId).sort()).toEqual([...accepted.messageIds].sort());
  });

  it("surfaces the provider's 429 as a retryable RateLimited failure whose nextRetryDelay is its Retry-After", async () => {
    // A new limit starts a fresh window: two sends pass, the third is refused for the rest of the minute.
    await sandboxAdmin.config({ emailRateLimit: { limit: 2, windowMs: 60_000 } });
    await call(email, 'send', { key: uniqueId('mail-limit'), body: message() });
    await call(email, 'send', { key: uniqueId('mail-limit'), body: message() });
    const key = uniqueId('mail-limited');
    const f = await failureOf(call(email, 'send', { key, body: message() }));

    expect(f).toMatchObject({ type: FailureType.RateLimited, nonRetryable: false });
    // Retry-After is 60 s (the window just started); background adds up to 10% jitter.
    expect(f.message).toContain('provider asked to wait 60000 ms');
    expect(f.nextRetryDelay).toBeGreaterThanOrEqual(60_000);
    expect(f.nextRetryDelay).toBeLessThanOrEqual(66_000);
    expect(await effectsOf(key)).toHaveLength(0);
  });

  it('never writes a recipient address to a log line or failure when a send fails', async () => {
    const capture = captureLogs();
    const rt = new IntegrationEngine({ logger: capture.logger });
    const recipient = `pii-canary-${randomBytes(8).toString('hex')}@example.com`;
    const batchRecipient = `pii-canary-${randomBytes(8).toString('hex')}@example.com`;
    try {
      await sandboxAdmin.fault({
        method: 'POST',
        path: '/email/send',
        fault: 'status',
        params: { code: 422 },
        times: 1,
      });
      await sandboxAdmin.fault({
        method: 'POST',
        path: '/email/batch',
        fault: 'status',
        params: { code: 500 },
        times: 1,
      });
      const failures = [
        await failureOf(call(email, 'send', { key: uniqueId('mail-pii'), body: message(recipient) }, rt)),
        await failureOf(
          call(email, 'sendBatch', { key: uniqueId('mail-pii'), body: { messages: [message(batchRecipient)] } }, rt),
        ),
      ];

      const failed = capture.records().filter((r) => r.msg === 'integration call failed');
      expect(failed).toHaveLength(2);
      expect(failed.every((r) => String(r.requestBody).includes('[redacted]'))).toBe(true);
      const everything = [...capture.lines(), ...failures.map((f) => `${f.message} ${JSON.stringify(f.details)}`)];
      for (const value of [recipient, batchRecipient]) expect(everything.join('\n')).not.toContain(value);
    } finally {
      await rt.close();
    }
  });
});

describe('crm', () => {
  it('reads an existing customer', async () => {
    const customer = await call(crm, 'getCustomer', { params: { id: 'cus_0001' } });
    expect(customer).toMatchObject({
      id: 'cus_0001',
      name: expect.any(String) as string,
      email: expect.any(String) as string,
    });
    expect(['free', 'pro', 'enterprise']).toContain(customer?.tier);
  });

  it('returns null for a customer id that does not exist', async () => {
    expect(await call(crm, 'getCustomer', { params: { id: uniqueId('missing') } })).toBeNull();
  });

  it('pages through every customer, following nextCursor until it is null', async () => {
    const seen: Customer[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 10; page += 1) {
      const result = await call(crm, 'listCustomers', { query: { cursor, limit: 100 } });
      seen.push(...result.items);
      if (result.nextCursor === null) break;
      cursor = result.nextCursor;
    }
    expect(seen).toHaveLength(250);
    expect(new Set(seen.map((c) => c.id)).size).toBe(250);
  });

  it('applies a keyed update once, however often it is resent, and answers each resend with the customer', async () => {
    const id = `cus_${randomBytes(6).toString('hex')}`;
    const key = uniqueId('crm-update');
    const input = { key, params: { id }, body: { notes: 'prefers email', tier: 'pro' as const } };
    const first = await call(crm, 'updateCustomer', input);
    const resent = await call(crm, 'updateCustomer', input);

    expect(first).toMatchObject({ id, notes: 'prefers email', tier: 'pro', updatedAt: expect.any(String) as string });
    expect(resent).toEqual(first);
    const effects = await effectsOf(key);
    expect(effects).toHaveLength(1);
    expect(effects[0]).toMatchObject({ effect: 'customer.updated', resourceId: id });
  });
});
