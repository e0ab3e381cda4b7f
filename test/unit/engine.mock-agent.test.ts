import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { MockAgent } from 'undici';
import { z } from 'zod';
import {
  apiKey,
  defineIntegration,
  get,
  oauth2ClientCredentials,
  post,
  type EndpointSpec,
} from '../../src/integrations/kit/define';
import { FailureType } from '../../src/integrations/kit/failures';
import { env, secret } from '../../src/integrations/kit/refs';
import { IntegrationEngine, type ActivityInput } from '../../src/integrations/runtime/engine';
import type { Logger } from '../../src/observability/logger';
import { failureOf, detailsOf } from '../support/failures';

/**
 * The engine over undici's MockAgent: request building, response edge parsing and the activity
 * wrapper, with no network at all (disableNetConnect: an unmatched request fails the test).
 */

const ORIGIN = 'http://127.0.0.1:9';
const Thing = z.object({ id: z.string() });

const endpoints = {
  getThing: get('things/:id', {
    params: z.object({ id: z.string() }),
    response: Thing,
    profile: 'userFlow',
    overrides: { maxRetryAfter: 120_000 },
  }),
  search: get('search', {
    query: z.object({ q: z.string(), limit: z.number().int().optional(), tag: z.string().optional() }),
    response: z.object({ hits: z.array(z.string()) }),
  }),
  createThing: post('things', {
    body: z.object({ name: z.string().min(1) }),
    response: Thing,
    profile: 'userFlow',
  }),
  deleteLater: post('things/:id/archive', {
    params: z.object({ id: z.string() }),
    response: z.undefined(),
    profile: 'userFlow',
  }),
  anything: get('anything', { response: z.unknown(), profile: 'userFlow' }),
} satisfies Record<string, EndpointSpec>;

function probe(options: { maxResponseBytes?: number; baseUrlVar?: string } = {}) {
  return defineIntegration({
    name: 'probe',
    version: 'v1',
    purpose: 'engine tests',
    owner: 'tests',
    baseUrl: env((options.baseUrlVar ?? 'PROBE_URL') as never),
    auth: apiKey({ header: 'X-Api-Key', key: secret('PROBE_KEY') }),
    idempotency: { header: 'Idempotency-Key', retention: '24 hours' },
    pool: options.maxResponseBytes === undefined ? undefined : { maxResponseBytes: options.maxResponseBytes },
    endpoints,
  });
}

/** What the mock saw of a request. */
interface Seen {
  path: string;
  method: string;
  headers?: unknown;
  body?: unknown;
}

let agent: MockAgent;
type LogMock = jest.Mock<void, [Record<string, unknown>, string?]>;
let logger: Logger & { info: LogMock; warn: LogMock };

beforeEach(() => {
  agent = new MockAgent();
  agent.disableNetConnect();
  const fake = { info: jest.fn(), warn: jest.fn(), error: jest.fn(), debug: jest.fn() };
  logger = { ...fake, child: () => logger } as unknown as typeof logger;
});

afterEach(async () => {
  await agent.close();
});

function runtime(extraEnv: Record<string, string> = {}): IntegrationEngine {
  return new IntegrationEngine({
    logger,
    env: { NODE_ENV: 'test', PROBE_URL: `${ORIGIN}/api/`, PROBE_KEY: 'k-secret-1', ...extraEnv },
    dispatcher: () => agent.get(ORIGIN),
  });
}

/** Intercepts the next request to the origin (any path or method), records it and answers. */
function answer(statusCode: number, data?: string | Buffer | object, headers: Record<string, string> = {}): Seen[] {
  const seen: Seen[] = [];
  agent
    .get(ORIGIN)
    .intercept({ path: () => true, method: () => true })
    .reply((opts) => {
      seen.push(opts);
      return { statusCode, data, responseOptions: { headers } };
    });
  return seen;
}

const jsonHeaders = { 'content-type': 'application/json' };

function call(rt: IntegrationEngine, endpoint: keyof typeof endpoints, input: ActivityInput, attempt = 1) {
  return rt.call(probe(), endpoint, input, { attempt });
}

/** The one request the mock saw. */
function only(seen: Seen[]): Seen {
  expect(seen).toHaveLength(1);
  return seen[0]!;
}

function firstFields(mock: LogMock): Record<string, unknown> | undefined {
  return mock.mock.calls[0]?.[0];
}

function headerOf(seen: Seen, name: string): string | undefined {
  const headers = seen.headers as Record<string, string>;
  return headers[name];
}

describe('engine request building', () => {
  it('sends the API key in its header, plus JSON accept and user agent', async () => {
    const seen = answer(200, { id: 'a' }, jsonHeaders);
    await expect(call(runtime(), 'getThing', { params: { id: 'a' } })).resolves.toEqual({ id: 'a' });
    expect(seen).toHaveLength(1);
    expect(headerOf(only(seen), 'x-api-key')).toBe('k-secret-1');
    expect(headerOf(only(seen), 'accept')).toBe('application/json');
    expect(headerOf(only(seen), 'user-agent')).toBe('durable-integrations');
  });

  it('sends the API key with its scheme when one is declared', async () => {
    const integration = defineIntegration({
      ...probe(),
      auth: apiKey({ header: 'Authorization', scheme: 'Bearer', key: secret('PROBE_KEY') }),
    });
    const seen = answer(200, { id: 'a' }, jsonHeaders);
    await runtime().call(integration, 'getThing', { params: { id: 'a' } }, { attempt: 1 });
    expect(headerOf(only(seen), 'authorization')).toBe('Bearer k-secret-1');
  });

  it('encodes path parameters and keeps the base URL path', async () => {
    const seen = answer(200, { id: 'x' }, jsonHeaders);
    await call(runtime(), 'getThing', { params: { id: 'a b/c?d#e%' } });
    expect(only(seen).path).toBe('/api/things/a%20b%2Fc%3Fd%23e%25');
    expect(only(seen).method).toBe('GET');
  });

  it('builds the query string from the query input, leaving out undefined values', async () => {
    const seen = answer(200, { hits: [] }, jsonHeaders);
    await call(runtime(), 'search', { query: { q: 'caf\u00e9 & co', limit: 5, tag: undefined } });
    expect(only(seen).path).toBe('/api/search?q=caf%C3%A9+%26+co&limit=5');
  });

  it('sends the idempotency key header with the key on a write, and the body as JSON', async () => {
    const seen = answer(201, { id: 'n' }, jsonHeaders);
    await call(runtime(), 'createThing', { key: 'wf-1:create', body: { name: 'n' } });
    expect(only(seen).method).toBe('POST');
    expect(headerOf(only(seen), 'idempotency-key')).toBe('wf-1:create');
    expect(headerOf(only(seen), 'content-type')).toBe('application/json');
    expect(only(seen).body).toBe('{"name":"n"}');
  });

  it('does not send the idempotency header on a read, even when a key is passed', async () => {
    const seen = answer(200, { id: 'a' }, jsonHeaders);
    await call(runtime(), 'getThing', { key: 'wf-1:read', params: { id: 'a' } });
    expect(headerOf(only(seen), 'idempotency-key')).toBeUndefined();
    expect(headerOf(only(seen), 'content-type')).toBeUndefined();
  });

  it('refuses input that fails the endpoint schema as non-retryable Misconfigured, sending nothing', async () => {
    const seen = answer(201, { id: 'n' }, jsonHeaders);
    const f = await failureOf(call(runtime(), 'createThing', { key: 'k1', body: { name: '' } }));
    expect(f.type).toBe(FailureType.Misconfigured);
    expect(f.nonRetryable).toBe(true);
    expect(f.message).toContain('body.name');
    expect(seen).toHaveLength(0);
    expect(agent.pendingInterceptors()).toHaveLength(1);
  });

  it('refuses a missing path parameter as Misconfigured, sending nothing', async () => {
    const seen = answer(200, { id: 'a' }, jsonHeaders);
    const f = await failureOf(call(runtime(), 'getThing', {}));
    expect(f).toMatchObject({ type: FailureType.Misconfigured, nonRetryable: true });
    expect(seen).toHaveLength(0);
  });

  it('refuses a write without an idempotency key as Misconfigured, sending nothing', async () => {
    const seen = answer(201, { id: 'n' }, jsonHeaders);
    const f = await failureOf(call(runtime(), 'createThing', { body: { name: 'n' } }));
    expect(f).toMatchObject({ type: FailureType.Misconfigured, nonRetryable: true });
    expect(f.message).toContain('idempotency key');
    expect(seen).toHaveLength(0);
  });

  it('refuses a plain-HTTP base URL when NODE_ENV is production', async () => {
    const seen = answer(200, { id: 'a' }, jsonHeaders);
    const f = await failureOf(call(runtime({ NODE_ENV: 'production' }), 'getThing', { params: { id: 'a' } }));
    expect(f).toMatchObject({ type: FailureType.Misconfigured, nonRetryable: true });
    expect(f.message).toContain('not HTTPS');
    expect(seen).toHaveLength(0);
  });

  it('treats a missing NODE_ENV as development, where loopback HTTP is allowed', async () => {
    answer(200, { id: 'a' }, jsonHeaders);
    const rt = new IntegrationEngine({
      logger,
      env: { PROBE_URL: ORIGIN, PROBE_KEY: 'k' },
      dispatcher: () => agent.get(ORIGIN),
    });
    await expect(rt.call(probe(), 'getThing', { params: { id: 'a' } }, { attempt: 1 })).resolves.toEqual({ id: 'a' });
  });

  it.each([
    'http://169.254.169.254',
    'https://169.254.169.254/latest',
    'https://[fe80::1]',
    'https://metadata.google.internal',
  ])('refuses the link-local or metadata base URL %s as Misconfigured', async (url) => {
    const seen = answer(200, { id: 'a' }, jsonHeaders);
    const f = await failureOf(call(runtime({ PROBE_URL: url }), 'getThing', { params: { id: 'a' } }));
    expect(f).toMatchObject({ type: FailureType.Misconfigured, nonRetryable: true });
    expect(seen).toHaveLength(0);
  });

  it('names the link-local rule when the base URL is HTTPS to the metadata address', async () => {
    const f = await failureOf(
      call(runtime({ PROBE_URL: 'https://169.254.169.254' }), 'getThing', { params: { id: 'a' } }),
    );
    expect(f.message).toContain('link-local or metadata address');
  });

  it('refuses a missing secret as Misconfigured, naming the variable', async () => {
    const rt = new IntegrationEngine({
      logger,
      env: { NODE_ENV: 'test', PROBE_URL: ORIGIN },
      dispatcher: () => agent.get(ORIGIN),
    });
    const f = await failureOf(rt.call(probe(), 'getThing', { params: { id: 'a' } }, { attempt: 1 }));
    expect(f).toMatchObject({ type: FailureType.Misconfigured, nonRetryable: true });
    expect(f.message).toContain('PROBE_KEY');
  });
});

describe('engine failure details', () => {
  it('attaches integration, endpoint, method, URL without query, status, attempt and key', async () => {
    answer(500, { error: 'x' }, jsonHeaders);
    const f = await failureOf(call(runtime(), 'createThing', { key: 'wf-9:create', body: { name: 'n' } }, 4));
    expect(detailsOf(f)).toEqual({
      integration: 'probe',
      endpoint: 'createThing',
      method: 'POST',
      url: `${ORIGIN}/api/things`,
      status: 500,
      code: undefined,
      attempt: 4,
      idempotencyKey: 'wf-9:create',
    });
    expect(f.type).toBe(FailureType.ServerError);
    expect(f.nonRetryable).toBe(false);
  });

  it('leaves the query string out of the URL in the details', async () => {
    answer(400, { error: 'bad' }, jsonHeaders);
    const f = await failureOf(call(runtime(), 'search', { query: { q: 'private-term' } }));
    expect(detailsOf(f).url).toBe(`${ORIGIN}/api/search`);
    expect(f.message).not.toContain('private-term');
  });

  it('reports the transport error code for a failure without a response', async () => {
    agent
      .get(ORIGIN)
      .intercept({ path: () => true })
      .replyWithError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }));
    const f = await failureOf(call(runtime(), 'getThing', { params: { id: 'a' } }));
    expect(f).toMatchObject({ type: FailureType.NetworkError, nonRetryable: false });
    expect(detailsOf(f)).toMatchObject({ code: 'ECONNREFUSED', status: undefined });
  });
});

describe('engine Retry-After', () => {
  it('sets nextRetryDelay from Retry-After in seconds', async () => {
    answer(429, { error: 'slow' }, { ...jsonHeaders, 'retry-after': '7' });
    const f = await failureOf(call(runtime(), 'getThing', { params: { id: 'a' } }));
    expect(f).toMatchObject({ type: FailureType.RateLimited, nonRetryable: false, nextRetryDelay: 7_000 });
  });

  it("caps a Retry-After in seconds at the profile's maxRetryAfter", async () => {
    answer(429, { error: 'slow' }, { ...jsonHeaders, 'retry-after': '86400' });
    const f = await failureOf(call(runtime(), 'getThing', { params: { id: 'a' } }));
    expect(f.nextRetryDelay).toBe(120_000);
  });

  it('sets nextRetryDelay from Retry-After as an HTTP-date', async () => {
    const date = new Date(Date.now() + 30_000).toUTCString();
    answer(503, { error: 'maintenance' }, { ...jsonHeaders, 'retry-after': date });
    const f = await failureOf(call(runtime(), 'getThing', { params: { id: 'a' } }));
    expect(f.type).toBe(FailureType.RateLimited);
    // The date has second resolution and some milliseconds pass before the engine reads the clock.
    expect(f.nextRetryDelay).toBeGreaterThan(28_000);
    expect(f.nextRetryDelay).toBeLessThanOrEqual(30_000);
  });

  it("caps a Retry-After HTTP-date at the profile's maxRetryAfter", async () => {
    const date = new Date(Date.now() + 3_600_000).toUTCString();
    answer(503, { error: 'maintenance' }, { ...jsonHeaders, 'retry-after': date });
    const f = await failureOf(call(runtime(), 'getThing', { params: { id: 'a' } }));
    expect(f.nextRetryDelay).toBe(120_000);
  });
});

describe('engine content types', () => {
  it.each(['application/json; charset=utf-8', 'application/problem+json', 'application/vnd.api+json'])(
    'accepts a 200 with content type %s',
    async (contentType) => {
      answer(200, '{"id":"a"}', { 'content-type': contentType });
      await expect(call(runtime(), 'getThing', { params: { id: 'a' } })).resolves.toEqual({ id: 'a' });
    },
  );

  it.each(['text/html', 'text/plain'])('rejects a 200 with content type %s as InvalidResponse', async (contentType) => {
    answer(200, '{"id":"a"}', { 'content-type': contentType });
    const f = await failureOf(call(runtime(), 'getThing', { params: { id: 'a' } }));
    expect(f).toMatchObject({ type: FailureType.InvalidResponse, nonRetryable: true });
    expect(detailsOf(f).status).toBe(200);
  });

  it('rejects a 200 with a body and no content type as InvalidResponse', async () => {
    answer(200, '{"id":"a"}');
    const f = await failureOf(call(runtime(), 'getThing', { params: { id: 'a' } }));
    expect(f).toMatchObject({ type: FailureType.InvalidResponse, nonRetryable: true });
    expect(f.message).toContain('no content type');
  });

  it('accepts an empty 204 when the response schema accepts undefined', async () => {
    const seen = answer(204);
    await expect(call(runtime(), 'deleteLater', { key: 'k-204', params: { id: 'a' } })).resolves.toBeUndefined();
    expect(only(seen).path).toBe('/api/things/a/archive');
    expect(headerOf(only(seen), 'content-type')).toBeUndefined();
  });

  it('rejects an empty 200 when the response schema needs a body', async () => {
    answer(200, '', jsonHeaders);
    const f = await failureOf(call(runtime(), 'getThing', { params: { id: 'a' } }));
    expect(f.type).toBe(FailureType.InvalidResponse);
  });
});

describe('engine response size cap', () => {
  const big = Buffer.alloc(4_096, 'x');

  it('gives ResponseTooLarge when the declared Content-Length is over the cap, without reading the body', async () => {
    // The declared length alone decides: the mock body is small, the header claims more than the cap.
    answer(200, '{"id":"a"}', { ...jsonHeaders, 'content-length': '2048' });
    const f = await failureOf(
      runtime().call(probe({ maxResponseBytes: 1_024 }), 'getThing', { params: { id: 'a' } }, { attempt: 1 }),
    );
    expect(f).toMatchObject({ type: FailureType.ResponseTooLarge, nonRetryable: true });
  });

  it('gives ResponseTooLarge for a body over the cap that declares no length', async () => {
    answer(200, big, jsonHeaders);
    const f = await failureOf(runtime().call(probe({ maxResponseBytes: 1_024 }), 'anything', {}, { attempt: 1 }));
    expect(f).toMatchObject({ type: FailureType.ResponseTooLarge, nonRetryable: true });
  });

  it('does not trust a Content-Length under the cap when the body is larger', async () => {
    answer(200, big, { ...jsonHeaders, 'content-length': '10' });
    const f = await failureOf(runtime().call(probe({ maxResponseBytes: 1_024 }), 'anything', {}, { attempt: 1 }));
    expect(f.type).toBe(FailureType.ResponseTooLarge);
  });

  it('accepts a body exactly at the cap', async () => {
    const body = JSON.stringify({ pad: 'x'.repeat(1_024 - 10) });
    expect(Buffer.byteLength(body)).toBe(1_024);
    answer(200, body, jsonHeaders);
    await expect(runtime().call(probe({ maxResponseBytes: 1_024 }), 'anything', {}, { attempt: 1 })).resolves.toEqual({
      pad: expect.any(String) as unknown,
    });
  });
});

describe('engine activities', () => {
  // The SDK logs every failed activity at WARN; these failures are the point of the test.
  const quietSdk = { logger: new DefaultLogger('ERROR') };

  it('takes attempt, workflow ID and activity ID from the activity context', async () => {
    answer(500, { error: 'x' }, jsonHeaders);
    const rt = runtime();
    const activities = rt.activities(probe());
    expect(Object.keys(activities).sort()).toEqual([
      'probeAnything',
      'probeCreateThing',
      'probeDeleteLater',
      'probeGetThing',
      'probeSearch',
    ]);
    const env = new MockActivityEnvironment(
      {
        attempt: 3,
        activityId: 'act-7',
        workflowExecution: { workflowId: 'wf-ctx', runId: 'run-1' },
      },
      quietSdk,
    );
    const f = await failureOf(env.run(activities.probeCreateThing!, { key: 'wf-ctx:create', body: { name: 'n' } }));
    expect(f.type).toBe(FailureType.ServerError);
    expect(detailsOf(f)).toMatchObject({ attempt: 3, idempotencyKey: 'wf-ctx:create' });
    expect(logger.warn).toHaveBeenCalledTimes(1);
    expect(firstFields(logger.warn)).toMatchObject({
      attempt: 3,
      workflowId: 'wf-ctx',
      activityId: 'act-7',
      outcome: FailureType.ServerError,
    });
  });

  it('resolves with the validated body through the activity wrapper and logs one line', async () => {
    answer(200, { id: 'a', extra: true }, jsonHeaders);
    const activities = runtime().activities(probe());
    const env = new MockActivityEnvironment({ attempt: 1 }, quietSdk);
    await expect(env.run(activities.probeGetThing!, { params: { id: 'a' } })).resolves.toEqual({ id: 'a' });
    expect(logger.info).toHaveBeenCalledTimes(1);
    expect(firstFields(logger.info)).toMatchObject({ outcome: 'ok', status: 200, attempt: 1 });
  });
});

describe('OAuth2 client credentials through the token endpoint', () => {
  function oauthProbe(auth: { clientAuthentication?: 'basic' | 'post'; audience?: string; scope?: string }) {
    return defineIntegration({
      ...probe(),
      name: 'oauthprobe',
      auth: oauth2ClientCredentials({
        tokenUrl: 'oauth/token',
        clientId: env('PROBE_CLIENT_ID'),
        clientSecret: secret('PROBE_CLIENT_SECRET'),
        ...auth,
      }),
    });
  }
  const tokenEnv = { PROBE_CLIENT_ID: 'client-1', PROBE_CLIENT_SECRET: 'client-secret-1' };
  const form = (seen: Seen) => Object.fromEntries(new URLSearchParams(String(seen.body)));

  it('authenticates with HTTP Basic by default, sending scope and audience in the form', async () => {
    const token = answer(200, { access_token: 'tok-abcdef', expires_in: 600 }, jsonHeaders);
    const api = answer(200, { id: 'a' }, jsonHeaders);
    const integration = oauthProbe({ audience: 'https://api.example', scope: 'payments' });
    await runtime(tokenEnv).call(integration, 'getThing', { params: { id: 'a' } }, { attempt: 1 });
    expect(only(token).path).toBe('/api/oauth/token');
    expect(headerOf(only(token), 'authorization')).toBe(
      `Basic ${Buffer.from('client-1:client-secret-1').toString('base64')}`,
    );
    expect(form(only(token))).toEqual({
      grant_type: 'client_credentials',
      scope: 'payments',
      audience: 'https://api.example',
    });
    expect(headerOf(only(api), 'authorization')).toBe('Bearer tok-abcdef');
  });

  it('sends the client id and secret in the form with client_secret_post, and no Basic header', async () => {
    const token = answer(200, { access_token: 'tok-posted', expires_in: 600 }, jsonHeaders);
    answer(200, { id: 'a' }, jsonHeaders);
    await runtime(tokenEnv).call(
      oauthProbe({ clientAuthentication: 'post' }),
      'getThing',
      { params: { id: 'a' } },
      {
        attempt: 1,
      },
    );
    expect(headerOf(only(token), 'authorization')).toBeUndefined();
    expect(form(only(token))).toEqual({
      grant_type: 'client_credentials',
      client_id: 'client-1',
      client_secret: 'client-secret-1',
    });
  });

  it.each([
    [400, FailureType.Unauthorized, 'rejected the client credentials (400)'],
    [401, FailureType.Unauthorized, 'rejected the client credentials (401)'],
    [404, FailureType.Misconfigured, 'token endpoint answered 404: check the token URL'],
    [503, FailureType.AuthUnavailable, 'token endpoint answered 503'],
    [429, FailureType.AuthUnavailable, 'token endpoint answered 429'],
  ])('classifies a token endpoint answering %i through the one table: %s', async (status, type, message) => {
    answer(status, { error: 'x' }, jsonHeaders);
    const f = await failureOf(
      runtime(tokenEnv).call(oauthProbe({}), 'getThing', { params: { id: 'a' } }, { attempt: 1 }),
    );
    expect(f.type).toBe(type);
    expect(f.message).toContain(message);
    expect(f.message).not.toContain('client-secret-1');
  });

  it('treats a 200 without an access token as the token endpoint being unavailable, not as a success', async () => {
    answer(200, { token_type: 'bearer' }, jsonHeaders);
    const f = await failureOf(
      runtime(tokenEnv).call(oauthProbe({}), 'getThing', { params: { id: 'a' } }, { attempt: 1 }),
    );
    expect(f).toMatchObject({ type: FailureType.AuthUnavailable, nonRetryable: false });
    expect(f.message).toContain('without an access_token');
  });

  it('checks the token URL with the same HTTP allow-list as the base URL (production, ALLOW_HTTP_HOSTS)', async () => {
    answer(200, { access_token: 'tok-allowed', expires_in: 600 }, jsonHeaders);
    answer(200, { id: 'a' }, jsonHeaders);
    const rt = runtime({ ...tokenEnv, NODE_ENV: 'production', ALLOW_HTTP_HOSTS: '127.0.0.1' });
    await expect(rt.call(oauthProbe({}), 'getThing', { params: { id: 'a' } }, { attempt: 1 })).resolves.toEqual({
      id: 'a',
    });
  });
});
