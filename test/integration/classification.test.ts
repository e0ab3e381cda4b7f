import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { z } from 'zod';
import { defineIntegration, get, oauth2ClientCredentials, post } from '../../src/integrations/kit/define';
import { FailureType } from '../../src/integrations/kit/failures';
import { env, secret } from '../../src/integrations/kit/refs';
import { Payment, PaymentRequest } from '../../src/integrations/payments/payments.integration';
import { IntegrationEngine, type ActivityInput } from '../../src/integrations/runtime/engine';
import { sandboxAdmin } from '../support/sandbox';
import { testLogger } from '../support/stack';

import { failureOf, detailsOf } from '../support/failures';

/**
 * Every row of the classification table over real HTTP: the engine against the sandbox process,
 * faults injected by admin rules, effects checked in the sandbox's ledger. No mocks.
 */

/** Short timeouts so hanging and slow faults cost half a second; userFlow has no jitter, so delays are exact. */
const fast = { headersTimeout: 500, bodyTimeout: 500, maxRetryAfter: 5_000 };
const CorrelationQuery = z.object({ correlationId: z.string().min(1) });

function paymentsProbe(name: string, options: { maxResponseBytes?: number; baseUrlVar?: string } = {}) {
  return defineIntegration({
    name,
    version: 'v1',
    purpose: 'classification tests',
    owner: 'tests',
    baseUrl: env((options.baseUrlVar ?? 'PAYMENTS_URL') as never),
    auth: oauth2ClientCredentials({
      tokenUrl: 'oauth/token',
      clientId: env('PAYMENTS_CLIENT_ID'),
      clientSecret: secret('PAYMENTS_CLIENT_SECRET'),
    }),
    idempotency: { header: 'x-correlation-id', retention: '24 hours' },
    pool: options.maxResponseBytes === undefined ? undefined : { maxResponseBytes: options.maxResponseBytes },
    endpoints: {
      hello: get('hello', { response: z.object({ ok: z.literal(true) }), profile: 'userFlow', overrides: fast }),
      createPayment: post('payments', {
        body: PaymentRequest,
        response: Payment,
        profile: 'userFlow',
        overrides: fast,
      }),
      findPayment: get('payments', {
        query: CorrelationQuery,
        response: Payment.nullable(),
        notFound: 'null',
        profile: 'userFlow',
        overrides: fast,
      }),
      getPayment: get('payments', { query: CorrelationQuery, response: Payment, profile: 'userFlow', overrides: fast }),
    },
  });
}

const probe = paymentsProbe('classprobe');
const smallProbe = paymentsProbe('classprobesmall', { maxResponseBytes: 64 * 1024 });

const logger = () => testLogger().child({ component: 'classification-test' });
const runtimes: IntegrationEngine[] = [];

function newRuntime(env: NodeJS.ProcessEnv = process.env): IntegrationEngine {
  const rt = new IntegrationEngine({ logger: logger(), env });
  runtimes.push(rt);
  return rt;
}

let runtime: IntegrationEngine;

beforeAll(async () => {
  runtime = newRuntime();
  // Fetch and cache the OAuth token up front, so no test's timing includes it.
  await runtime.call(probe, 'hello', {}, { attempt: 1 });
  await runtime.call(smallProbe, 'hello', {}, { attempt: 1 });
});

afterEach(() => sandboxAdmin.clearFaults());

afterAll(async () => {
  await Promise.all(runtimes.map((rt) => rt.close()));
});

type Endpoint = 'hello' | 'createPayment' | 'findPayment' | 'getPayment';

function call(endpoint: Endpoint, input: ActivityInput = {}, rt = runtime, integration = probe) {
  return rt.call(integration, endpoint, input, { attempt: 1 });
}

/** A payment request with a key no other test (or run) uses. */
function charge(): { key: string; body: PaymentRequest } {
  const key = `classification-${randomUUID()}`;
  return { key, body: { amount: 1234, currency: 'EUR', orderId: key } };
}

/** Applies `fault` to the next request (only) to `method path`. */
function faultOnce(method: 'GET' | 'POST', path: string, fault: string, params?: Record<string, string | number>) {
  return sandboxAdmin.fault({ method, path, fault, params, times: 1 });
}

async function effectsOf(key: string) {
  return (await sandboxAdmin.ledger()).filter((e) => e.idempotencyKey === key);
}

/** A loopback port nothing listens on: bound, read and released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('transport failures', () => {
  it('classifies a connection refused before anything was sent as a retryable NetworkError, even on a write', async () => {
    const port = await closedPort();
    const rt = newRuntime({ ...process.env, CLOSED_URL: `http://127.0.0.1:${port}` });
    const unreachable = defineIntegration({
      ...paymentsProbe('classprobeclosed', { baseUrlVar: 'CLOSED_URL' }),
      auth: { kind: 'none' },
    });
    const { key, body } = charge();
    const f = await failureOf(call('createPayment', { key, body }, rt, unreachable));
    expect(f).toMatchObject({ type: FailureType.NetworkError, nonRetryable: false });
    expect(detailsOf(f).code).toBe('ECONNREFUSED');
  });

  it('classifies a write whose answer never comes (commit-then-hang) as OutcomeUnknown, and the effect was applied once', async () => {
    await faultOnce('POST', '/payments/payments', 'commit-then-hang');
    const { key, body } = charge();
    const f = await failureOf(call('createPayment', { key, body }));
    expect(f).toMatchObject({ type: FailureType.OutcomeUnknown, nonRetryable: false });
    expect(detailsOf(f)).toMatchObject({ code: 'UND_ERR_HEADERS_TIMEOUT', idempotencyKey: key });
    expect(await effectsOf(key)).toHaveLength(1);
  });

  it('resends a write after OutcomeUnknown with the same key and gets the first payment back, with no second effect', async () => {
    await faultOnce('POST', '/payments/payments', 'commit-then-hang');
    const { key, body } = charge();
    await failureOf(call('createPayment', { key, body }));
    const [effect] = await effectsOf(key);
    const payment = (await call('createPayment', { key, body })) as Payment;
    expect(payment.id).toBe(effect?.resourceId);
    expect(await effectsOf(key)).toHaveLength(1);
  });

  it('classifies a read slower than the headers timeout as a retryable Timeout', async () => {
    await faultOnce('GET', '/payments/hello', 'latency', { ms: 3_000 });
    const f = await failureOf(call('hello'));
    expect(f).toMatchObject({ type: FailureType.Timeout, nonRetryable: false });
    // Ended by our headers timeout, not by the provider's 3 s answer.
    expect(detailsOf(f).code).toBe('UND_ERR_HEADERS_TIMEOUT');
  });

  it('classifies a write whose connection is reset after it was applied (commit-then-reset) as OutcomeUnknown', async () => {
    await faultOnce('POST', '/payments/payments', 'commit-then-reset');
    const { key, body } = charge();
    const f = await failureOf(call('createPayment', { key, body }));
    expect(f).toMatchObject({ type: FailureType.OutcomeUnknown, nonRetryable: false });
    expect(await effectsOf(key)).toHaveLength(1);
  });

  it('classifies a write whose connection is reset before it was applied (reset) as OutcomeUnknown, with no effect', async () => {
    await faultOnce('POST', '/payments/payments', 'reset');
    const { key, body } = charge();
    const f = await failureOf(call('createPayment', { key, body }));
    expect(f).toMatchObject({ type: FailureType.OutcomeUnknown, nonRetryable: false });
    expect(await effectsOf(key)).toHaveLength(0);
  });

  it('classifies a read whose connection is reset as a retryable Timeout', async () => {
    await faultOnce('GET', '/payments/hello', 'reset');
    const f = await failureOf(call('hello'));
    expect(f).toMatchObject({ type: FailureType.Timeout, nonRetryable: false });
    expect(detailsOf(f).status).toBeUndefined();
  });
});

describe('gateway timeouts and server errors', () => {
  it('classifies a 504 after a write was applied (commit-then-504) as OutcomeUnknown', async () => {
    await faultOnce('POST', '/payments/payments', 'commit-then-504', { ms: 0 });
    const { key, body } = charge();
    const f = await failureOf(call('createPayment', { key, body }));
    expect(f).toMatchObject({ type: FailureType.OutcomeUnknown, nonRetryable: false });
    expect(detailsOf(f).status).toBe(504);
    expect(await effectsOf(key)).toHaveLength(1);
  });

  it('classifies a 504 on a read as a retryable ServerError', async () => {
    await faultOnce('GET', '/payments/hello', 'status', { code: 504 });
    const f = await failureOf(call('hello'));
    expect(f).toMatchObject({ type: FailureType.ServerError, nonRetryable: false });
  });

  it('classifies a 502 on a write as OutcomeUnknown: a gateway error hides whether the provider applied it', async () => {
    await faultOnce('POST', '/payments/payments', 'status', { code: 502 });
    const { key, body } = charge();
    const f = await failureOf(call('createPayment', { key, body }));
    expect(f).toMatchObject({ type: FailureType.OutcomeUnknown, nonRetryable: false });
    expect(detailsOf(f).status).toBe(502);
  });

  it.each([408, 500, 503])(
    'classifies %d on a write as a retryable ServerError, and nothing was applied',
    async (code) => {
      await faultOnce('POST', '/payments/payments', 'status', { code });
      const { key, body } = charge();
      const f = await failureOf(call('createPayment', { key, body }));
      expect(f).toMatchObject({ type: FailureType.ServerError, nonRetryable: false, nextRetryDelay: undefined });
      expect(detailsOf(f).status).toBe(code);
      expect(await effectsOf(key)).toHaveLength(0);
    },
  );

  it('classifies a proxy HTML 502 page as ServerError: the status decides before the content type', async () => {
    await faultOnce('GET', '/payments/hello', 'html-error', { status: 502 });
    const f = await failureOf(call('hello'));
    expect(f).toMatchObject({ type: FailureType.ServerError, nonRetryable: false });
  });
});

describe('rate limiting', () => {
  it('classifies a 429 as RateLimited with nextRetryDelay from Retry-After in seconds', async () => {
    await faultOnce('GET', '/payments/hello', 'rate-limit', { retryAfter: 2 });
    const f = await failureOf(call('hello'));
    expect(f).toMatchObject({ type: FailureType.RateLimited, nonRetryable: false, nextRetryDelay: 2_000 });
    expect(detailsOf(f).status).toBe(429);
  });

  it("caps a 429's Retry-After at the profile's maxRetryAfter", async () => {
    await faultOnce('GET', '/payments/hello', 'rate-limit', { retryAfter: 600 });
    const f = await failureOf(call('hello'));
    expect(f).toMatchObject({ type: FailureType.RateLimited, nextRetryDelay: fast.maxRetryAfter });
  });

  it('classifies a 429 on a write as RateLimited, and nothing was applied', async () => {
    await faultOnce('POST', '/payments/payments', 'rate-limit', { retryAfter: 1 });
    const { key, body } = charge();
    const f = await failureOf(call('createPayment', { key, body }));
    expect(f).toMatchObject({ type: FailureType.RateLimited, nextRetryDelay: 1_000 });
    expect(await effectsOf(key)).toHaveLength(0);
  });

  it('classifies a 503 with a Retry-After HTTP-date as RateLimited, waiting until that date', async () => {
    await faultOnce('GET', '/payments/hello', 'status', { code: 503, retryAfterDate: 3 });
    const f = await failureOf(call('hello'));
    expect(f.type).toBe(FailureType.RateLimited);
    // The sandbox formats now + 3 s as an HTTP-date, truncated to the second.
    expect(f.nextRetryDelay).toBeGreaterThan(1_000);
    expect(f.nextRetryDelay).toBeLessThanOrEqual(3_000);
  });

  it('classifies a 503 with Retry-After in seconds as RateLimited, not ServerError', async () => {
    await faultOnce('GET', '/payments/hello', 'status', { code: 503, retryAfter: 1 });
    const f = await failureOf(call('hello'));
    expect(f).toMatchObject({ type: FailureType.RateLimited, nextRetryDelay: 1_000 });
  });
});

describe('client errors', () => {
  it.each([
    [400, FailureType.RequestRejected],
    [403, FailureType.RequestRejected],
    [404, FailureType.NotFound],
    [409, FailureType.RequestRejected],
    [422, FailureType.RequestRejected],
  ])('classifies %d on a write as non-retryable %s, and nothing was applied', async (code, type) => {
    await faultOnce('POST', '/payments/payments', 'status', { code });
    const { key, body } = charge();
    const f = await failureOf(call('createPayment', { key, body }));
    expect(f).toMatchObject({ type, nonRetryable: true });
    expect(detailsOf(f).status).toBe(code);
    expect(await effectsOf(key)).toHaveLength(0);
  });

  it('classifies the real 422 for a key reused with a different body as RequestRejected, leaving the first effect alone', async () => {
    const { key, body } = charge();
    await call('createPayment', { key, body });
    const f = await failureOf(call('createPayment', { key, body: { ...body, amount: body.amount + 1 } }));
    expect(f).toMatchObject({ type: FailureType.RequestRejected, nonRetryable: true });
    expect(detailsOf(f).status).toBe(422);
    const effects = await effectsOf(key);
    expect(effects).toHaveLength(1);
  });

  it("returns null for the real 404 of findPayment (notFound: 'null')", async () => {
    await expect(call('findPayment', { query: { correlationId: `missing-${randomUUID()}` } })).resolves.toBeNull();
  });

  it('classifies the real 404 of an endpoint that does not map it as NotFound, non-retryable', async () => {
    const f = await failureOf(call('getPayment', { query: { correlationId: `missing-${randomUUID()}` } }));
    expect(f).toMatchObject({ type: FailureType.NotFound, nonRetryable: true });
  });

  it('finds a payment that exists through findPayment', async () => {
    const { key, body } = charge();
    const created = (await call('createPayment', { key, body })) as Payment;
    await expect(call('findPayment', { query: { correlationId: key } })).resolves.toEqual(created);
  });
});

describe('credentials', () => {
  it('classifies a 401 with a cached token as retryable CredentialsExpired, and the next call fetches a new token', async () => {
    const rt = newRuntime();
    await call('hello', {}, rt);
    const before = await sandboxAdmin.stats();
    await faultOnce('GET', '/payments/hello', 'status', { code: 401 });
    const f = await failureOf(call('hello', {}, rt));
    expect(f).toMatchObject({ type: FailureType.CredentialsExpired, nonRetryable: false });
    expect((await sandboxAdmin.stats()).tokenRequests).toBe(before.tokenRequests);
    await expect(call('hello', {}, rt)).resolves.toEqual({ ok: true });
    expect((await sandboxAdmin.stats()).tokenRequests).toBe(before.tokenRequests + 1);
  });

  it('classifies a 401 with a token fetched right after a 401 as Unauthorized, non-retryable', async () => {
    const rt = newRuntime();
    await call('hello', {}, rt);
    const before = await sandboxAdmin.stats();
    await sandboxAdmin.fault({
      method: 'GET',
      path: '/payments/hello',
      fault: 'status',
      params: { code: 401 },
      times: 2,
    });
    expect((await failureOf(call('hello', {}, rt))).type).toBe(FailureType.CredentialsExpired);
    const f = await failureOf(call('hello', {}, rt));
    expect(f).toMatchObject({ type: FailureType.Unauthorized, nonRetryable: true });
    expect((await sandboxAdmin.stats()).tokenRequests).toBe(before.tokenRequests + 1);
  });

  it('classifies bad client credentials rejected by the token endpoint as Unauthorized, without calling the API', async () => {
    const rt = newRuntime({ ...process.env, PAYMENTS_CLIENT_SECRET: 'not-the-secret' });
    const before = await sandboxAdmin.stats();
    const f = await failureOf(call('hello', {}, rt));
    expect(f).toMatchObject({ type: FailureType.Unauthorized, nonRetryable: true });
    expect(f.message).toContain('rejected the client credentials (401)');
    expect(f.message).not.toContain('not-the-secret');
    const after = await sandboxAdmin.stats();
    expect(after.tokenRequests).toBe(before.tokenRequests + 1);
    expect(after.tokensIssued).toBe(before.tokensIssued);
    expect(after.requests['GET /payments/hello'] ?? 0).toBe(before.requests['GET /payments/hello'] ?? 0);
  });

  it('classifies a token endpoint answering 503 as retryable AuthUnavailable', async () => {
    const rt = newRuntime();
    await faultOnce('POST', '/payments/oauth/token', 'status', { code: 503 });
    const f = await failureOf(call('hello', {}, rt));
    expect(f).toMatchObject({ type: FailureType.AuthUnavailable, nonRetryable: false });
  });
});

describe('2xx answers that are not a result', () => {
  it('classifies a 2xx that does not match the schema (schema-violation) as InvalidResponse, after the effect was applied', async () => {
    await faultOnce('POST', '/payments/payments', 'schema-violation');
    const { key, body } = charge();
    const f = await failureOf(call('createPayment', { key, body }));
    expect(f).toMatchObject({ type: FailureType.InvalidResponse, nonRetryable: true });
    expect(f.message).toContain('does not match its schema');
    expect(await effectsOf(key)).toHaveLength(1);
  });

  it('classifies a 200 with ok:false (error-payload) as InvalidResponse', async () => {
    await faultOnce('GET', '/payments/hello', 'error-payload', { message: 'account_frozen' });
    const f = await failureOf(call('hello'));
    expect(f).toMatchObject({ type: FailureType.InvalidResponse, nonRetryable: true });
    expect(f.message).toContain('ok: false (account_frozen)');
  });

  it('classifies a 200 with a GraphQL errors array (graphql-errors) as InvalidResponse', async () => {
    await faultOnce('GET', '/payments/hello', 'graphql-errors', { message: 'field broke' });
    const f = await failureOf(call('hello'));
    expect(f).toMatchObject({ type: FailureType.InvalidResponse, nonRetryable: true });
    expect(f.message).toContain('errors[0]: field broke');
  });

  it('classifies a truncated JSON body (malformed-json) as InvalidResponse, after the effect was applied', async () => {
    await faultOnce('POST', '/payments/payments', 'malformed-json');
    const { key, body } = charge();
    const f = await failureOf(call('createPayment', { key, body }));
    expect(f).toMatchObject({ type: FailureType.InvalidResponse, nonRetryable: true });
    expect(f.message).toContain('not valid JSON');
    expect(await effectsOf(key)).toHaveLength(1);
  });

  it('classifies a 200 HTML page (html-error) as InvalidResponse', async () => {
    await faultOnce('GET', '/payments/hello', 'html-error', { status: 200 });
    const f = await failureOf(call('hello'));
    expect(f).toMatchObject({ type: FailureType.InvalidResponse, nonRetryable: true });
    expect(f.message).toContain('expected JSON, got text/html');
  });

  it('classifies a body over the integration cap (oversized) as ResponseTooLarge', async () => {
    await faultOnce('GET', '/payments/hello', 'oversized', { bytes: 256 * 1024 });
    const f = await failureOf(call('hello', {}, runtime, smallProbe));
    expect(f).toMatchObject({ type: FailureType.ResponseTooLarge, nonRetryable: true });
  });

  it('classifies a body over the default 1 MiB cap as ResponseTooLarge', async () => {
    await faultOnce('GET', '/payments/hello', 'oversized', { bytes: 1024 * 1024 + 1 });
    const f = await failureOf(call('hello'));
    expect(f.type).toBe(FailureType.ResponseTooLarge);
  });

  it('does not follow a redirect (redirect): UnexpectedRedirect, non-retryable, naming the location', async () => {
    await faultOnce('GET', '/payments/hello', 'redirect', { location: 'https://elsewhere.example/hello' });
    const f = await failureOf(call('hello'));
    expect(f).toMatchObject({ type: FailureType.UnexpectedRedirect, nonRetryable: true });
    expect(detailsOf(f).status).toBe(302);
    expect(f.message).toContain('https://elsewhere.example/hello');
  });
});
