import { MockAgent } from 'undici';
import { z } from 'zod';
import {
  apiKey,
  defineIntegration,
  graphql,
  type CallInput,
  type CallOutput,
  type EndpointSpec,
} from '../../src/integrations/kit/define';
import { FailureType } from '../../src/integrations/kit/failures';
import { scanDocument } from '../../src/integrations/kit/graphql';
import { resolveProfile } from '../../src/integrations/kit/profiles';
import { env, secret } from '../../src/integrations/kit/refs';
import { classify, type Outcome } from '../../src/integrations/runtime/classify';
import { IntegrationEngine, type ActivityInput } from '../../src/integrations/runtime/engine';
import type { CallMetrics } from '../../src/observability/call-metrics';
import { noCallMetrics } from '../../src/observability/call-metrics';
import type { Logger } from '../../src/observability/logger';
import { failureOf } from '../support/failures';

/**
 * The GraphQL endpoint kind: declaration checks, the request it sends, and every GraphQL row of the
 * classification table, through the engine over undici's MockAgent (no network).
 */

const ORIGIN = 'http://127.0.0.1:9';
const Item = z.object({ sku: z.string(), name: z.string(), price: z.number().nullable() });
const itemDocument = 'query Item($sku: ID!) { item(sku: $sku) { sku name price } }';
const reserveDocument = 'mutation Reserve($sku: ID!) { reserve(sku: $sku) { id } }';

const endpoints = {
  item: graphql('graphql', {
    document: 'query Item($sku: ID!, $email: String) { item(sku: $sku, email: $email) { sku name price } }',
    variables: z.object({ sku: z.string(), email: z.string().optional() }).strict(),
    data: z.object({ item: Item }),
    profile: 'userFlow',
    overrides: { maxRetryAfter: 120_000 },
  }),
  maybeItem: graphql('graphql', {
    document: itemDocument,
    variables: z.object({ sku: z.string() }),
    data: z.object({ item: Item.nullable() }),
    notFound: 'null',
  }),
  partialItem: graphql('graphql', {
    document: itemDocument,
    variables: z.object({ sku: z.string() }),
    data: z.object({ item: Item }),
    partial: 'accept',
  }),
  reserve: graphql('graphql', {
    document: reserveDocument,
    variables: z.object({ sku: z.string() }),
    data: z.object({ reserve: z.object({ id: z.string() }) }),
    codes: { SKU_DISCONTINUED: 'RequestRejected' },
  }),
} satisfies Record<string, EndpointSpec>;

function shop() {
  return defineIntegration({
    name: 'shop',
    version: 'v1',
    purpose: 'graphql tests',
    owner: 'tests',
    baseUrl: env('SHOP_URL'),
    auth: apiKey({ header: 'x-api-key', key: secret('SHOP_KEY') }),
    idempotency: { header: 'Idempotency-Key', retention: '24 hours' },
    pii: ['email'],
    endpoints,
  });
}

let agent: MockAgent;
type LogMock = jest.Mock<void, [Record<string, unknown>, string?]>;
let logger: Logger & { info: LogMock; warn: LogMock };
let degraded: jest.Mock;

beforeEach(() => {
  agent = new MockAgent();
  agent.disableNetConnect();
  const fake = { info: jest.fn(), warn: jest.fn(), error: jest.fn(), debug: jest.fn() };
  logger = { ...fake, child: () => logger } as unknown as typeof logger;
  degraded = jest.fn();
});

afterEach(async () => {
  await agent.close();
});

function engine(): IntegrationEngine {
  const metrics: CallMetrics = { ...noCallMetrics, degradedAnswer: degraded };
  return new IntegrationEngine({
    logger,
    env: { NODE_ENV: 'test', SHOP_URL: `${ORIGIN}/api/`, SHOP_KEY: 'shop-secret-key' },
    dispatcher: () => agent.get(ORIGIN),
    metrics,
  });
}

interface Seen {
  path: string;
  method: string;
  headers?: unknown;
  body?: unknown;
}

function answer(statusCode: number, data: object | string, headers: Record<string, string> = {}): Seen[] {
  const seen: Seen[] = [];
  agent
    .get(ORIGIN)
    .intercept({ path: () => true, method: () => true })
    .reply((opts) => {
      seen.push(opts);
      return { statusCode, data, responseOptions: { headers: { 'content-type': 'application/json', ...headers } } };
    });
  return seen;
}

const call = (endpoint: keyof typeof endpoints, input: ActivityInput) =>
  engine().call(shop(), endpoint, input, { attempt: 1 });
const item = { sku: 's1', name: 'Kettle', price: 1200 };
const gqlError = (code?: string, extra: Record<string, unknown> = {}, path?: string[]) => ({
  message: 'something about ada@example.com',
  ...(path ? { path } : {}),
  ...(code ? { extensions: { code, ...extra } } : {}),
});

describe('GraphQL requests', () => {
  it('POSTs the document, the checked variables and the operation name to the declared path', async () => {
    const seen = answer(200, { data: { item } });
    await expect(call('item', { variables: { sku: 's1' } })).resolves.toEqual({ item });
    expect(seen).toHaveLength(1);
    expect(seen[0]!.method).toBe('POST');
    expect(seen[0]!.path).toBe('/api/graphql');
    expect(JSON.parse(seen[0]!.body as string)).toEqual({
      query: endpoints.item.graphql.document,
      variables: { sku: 's1' },
      operationName: 'Item',
    });
    expect((seen[0]!.headers as Record<string, string>)['idempotency-key']).toBeUndefined();
  });

  it('types the input as { variables } and the result from the data schema (checked by npm run typecheck)', async () => {
    const input: CallInput<typeof endpoints.item> = { variables: { sku: 's1' } };
    // @ts-expect-error the variables are required
    const missing: CallInput<typeof endpoints.item> = {};
    // @ts-expect-error a GraphQL endpoint takes no body
    const withBody: CallInput<typeof endpoints.item> = { variables: { sku: 's1' }, body: {} };
    expect([missing, withBody]).toEqual([{}, { variables: { sku: 's1' }, body: {} }]);
    answer(200, { data: { item } });
    const output = (await call('item', input)) as CallOutput<typeof endpoints.item>;
    expect(output.item.name).toBe('Kettle');
  });

  it('sends a mutation with its idempotency key, and refuses one without a key', async () => {
    const seen = answer(200, { data: { reserve: { id: 'r1' } } });
    await expect(call('reserve', { key: 'wf-1:reserve', variables: { sku: 's1' } })).resolves.toEqual({
      reserve: { id: 'r1' },
    });
    expect((seen[0]!.headers as Record<string, string>)['idempotency-key']).toBe('wf-1:reserve');
    const f = await failureOf(call('reserve', { variables: { sku: 's1' } }));
    expect(f.type).toBe(FailureType.Misconfigured);
  });

  it('refuses variables that fail their schema as Misconfigured, naming the variable, sending nothing', async () => {
    const seen = answer(200, { data: { item } });
    const f = await failureOf(call('item', { variables: { sku: 5 } }));
    expect(f).toMatchObject({ type: FailureType.Misconfigured, nonRetryable: true });
    expect(f.message).toContain('variables.sku');
    expect(seen).toHaveLength(0);
  });
});

describe('GraphQL classification (errors in a 200)', () => {
  it('UNAUTHENTICATED is Unauthorized, non-retryable, with codes and paths but not the provider message', async () => {
    answer(200, { data: null, errors: [gqlError('UNAUTHENTICATED')] });
    const f = await failureOf(call('item', { variables: { sku: 's1' } }));
    expect(f).toMatchObject({ type: FailureType.Unauthorized, nonRetryable: true });
    expect(f.message).toContain('UNAUTHENTICATED');
    expect(f.message).not.toContain('ada@example.com');
  });

  it('UNAUTHENTICATED with refreshable credentials is CredentialsExpired, retryable once', () => {
    const outcome: Outcome = {
      kind: 'response',
      status: 200,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ errors: [gqlError('UNAUTHENTICATED')] }),
    };
    const verdict = classify(outcome, {
      spec: endpoints.item,
      profile: resolveProfile('userFlow'),
      attempt: 1,
      credentialsRefreshable: true,
    });
    expect(verdict).toMatchObject({ ok: false, type: FailureType.CredentialsExpired, retryable: true });
  });

  it.each(['FORBIDDEN', 'BAD_USER_INPUT', 'BAD_REQUEST', 'GRAPHQL_VALIDATION_FAILED', 'GRAPHQL_PARSE_FAILED'])(
    '%s is RequestRejected, non-retryable',
    async (code) => {
      answer(200, { errors: [gqlError(code)] });
      const f = await failureOf(call('item', { variables: { sku: 's1' } }));
      expect(f).toMatchObject({ type: FailureType.RequestRejected, nonRetryable: true });
      expect(f.message).toContain(code);
    },
  );

  it('NOT_FOUND is NotFound, non-retryable', async () => {
    answer(200, { data: { item: null }, errors: [gqlError('NOT_FOUND', {}, ['item'])] });
    const f = await failureOf(call('item', { variables: { sku: 'missing' } }));
    expect(f).toMatchObject({ type: FailureType.NotFound, nonRetryable: true });
    expect(f.message).toContain('NOT_FOUND at item');
  });

  it("NOT_FOUND on an endpoint declared notFound: 'null' is the data with its nulls", async () => {
    answer(200, { data: { item: null }, errors: [gqlError('NOT_FOUND', {}, ['item'])] });
    await expect(call('maybeItem', { variables: { sku: 'missing' } })).resolves.toEqual({ item: null });
  });

  it('RATE_LIMITED with extensions.retryAfter is RateLimited, retried after that many seconds', async () => {
    answer(200, { errors: [gqlError('RATE_LIMITED', { retryAfter: 7 })] });
    const f = await failureOf(call('item', { variables: { sku: 's1' } }));
    expect(f).toMatchObject({ type: FailureType.RateLimited, nonRetryable: false });
    expect(Number(f.nextRetryDelay)).toBe(7000);
  });

  it('THROTTLED without a wait of its own takes the Retry-After header', async () => {
    answer(200, { errors: [gqlError('THROTTLED')] }, { 'retry-after': '3' });
    const f = await failureOf(call('item', { variables: { sku: 's1' } }));
    expect(f).toMatchObject({ type: FailureType.RateLimited, nonRetryable: false });
    expect(Number(f.nextRetryDelay)).toBe(3000);
  });

  it.each([['INTERNAL_SERVER_ERROR'], ['SOMETHING_NEW'], [undefined]])(
    'code %s is ServerError, retryable',
    async (code) => {
      answer(200, { data: null, errors: [gqlError(code)] });
      const f = await failureOf(call('item', { variables: { sku: 's1' } }));
      expect(f).toMatchObject({ type: FailureType.ServerError, nonRetryable: false });
    },
  );

  it("an endpoint's own codes win over the kit's", async () => {
    answer(200, { data: { reserve: null }, errors: [gqlError('SKU_DISCONTINUED', {}, ['reserve'])] });
    const f = await failureOf(call('reserve', { key: 'k1', variables: { sku: 's1' } }));
    expect(f).toMatchObject({ type: FailureType.RequestRejected, nonRetryable: true });
  });

  it('when errors disagree, the one no retry can fix decides', async () => {
    answer(200, { errors: [gqlError('INTERNAL_SERVER_ERROR'), gqlError('RATE_LIMITED'), gqlError('BAD_USER_INPUT')] });
    const f = await failureOf(call('item', { variables: { sku: 's1' } }));
    expect(f.type).toBe(FailureType.RequestRejected);
  });

  it('logs the response body redacted: PII values sent as variables are scrubbed from it', async () => {
    answer(200, { errors: [gqlError('BAD_USER_INPUT')] });
    await failureOf(call('item', { variables: { sku: 's1', email: 'ada@example.com' } }));
    const fields = logger.warn.mock.calls.find(([, msg]) => msg === 'integration call failed')?.[0];
    expect(String(fields?.responseBody)).toContain('BAD_USER_INPUT');
    expect(JSON.stringify(fields)).not.toContain('ada@example.com');
  });
});

describe('GraphQL classification (partial data and the envelope)', () => {
  const partial = {
    data: { item: { ...item, price: null } },
    errors: [gqlError('INTERNAL_SERVER_ERROR', {}, ['item', 'price'])],
  };

  it("partial data on a query under partial: 'fail' is classified by its errors", async () => {
    answer(200, partial);
    const f = await failureOf(call('item', { variables: { sku: 's1' } }));
    expect(f).toMatchObject({ type: FailureType.ServerError, nonRetryable: false });
    expect(f.message).toContain('INTERNAL_SERVER_ERROR at item.price');
  });

  it("partial data under partial: 'accept' returns the data and the errors' codes and paths, counted as degraded", async () => {
    answer(200, partial);
    await expect(call('partialItem', { variables: { sku: 's1' } })).resolves.toEqual({
      data: { item: { ...item, price: null } },
      errors: [{ code: 'INTERNAL_SERVER_ERROR', path: ['item', 'price'] }],
    });
    expect(degraded).toHaveBeenCalledWith({ integration: 'shop', endpoint: 'partialItem', reason: 'graphql-partial' });
    const warned = logger.warn.mock.calls.find(([, msg]) => msg === 'integration call degraded')?.[0];
    expect(warned).toMatchObject({ degraded: 'graphql-partial', outcome: 'ok' });
    expect(JSON.stringify(warned)).not.toContain('ada@example.com');
  });

  it('an accepted answer without errors has an empty errors list and is not degraded', async () => {
    answer(200, { data: { item } });
    await expect(call('partialItem', { variables: { sku: 's1' } })).resolves.toEqual({ data: { item }, errors: [] });
    expect(degraded).not.toHaveBeenCalled();
  });

  it('partial data from a mutation is InvalidResponse: it was applied, the step settles it', async () => {
    answer(200, {
      data: { reserve: { id: null } },
      errors: [gqlError('INTERNAL_SERVER_ERROR', {}, ['reserve', 'id'])],
    });
    const f = await failureOf(call('reserve', { key: 'k1', variables: { sku: 's1' } }));
    expect(f).toMatchObject({ type: FailureType.InvalidResponse, nonRetryable: true });
  });

  it('data that fails the data schema is InvalidResponse', async () => {
    answer(200, { data: { item: { sku: 's1' } } });
    const f = await failureOf(call('item', { variables: { sku: 's1' } }));
    expect(f).toMatchObject({ type: FailureType.InvalidResponse, nonRetryable: true });
    expect(f.message).toContain('item.name');
  });

  it.each([
    ['neither data nor errors', { result: 1 }],
    ['errors that is not a list', { data: null, errors: { message: 'x' } }],
  ])('%s is InvalidResponse', async (_what, body) => {
    answer(200, body);
    const f = await failureOf(call('item', { variables: { sku: 's1' } }));
    expect(f.type).toBe(FailureType.InvalidResponse);
  });

  it.each([
    [503, FailureType.ServerError],
    [429, FailureType.RateLimited],
    [400, FailureType.RequestRejected],
    [401, FailureType.Unauthorized],
  ])('HTTP %s with a GraphQL body is judged by its status, as for any endpoint', async (status, type) => {
    answer(status, { errors: [gqlError('GRAPHQL_VALIDATION_FAILED')] });
    const f = await failureOf(call('item', { variables: { sku: 's1' } }));
    expect(f.type).toBe(type);
  });
});

describe('GraphQL declarations', () => {
  const declare = (endpoint: EndpointSpec) => () =>
    defineIntegration({
      name: 'shop',
      version: 'v1',
      purpose: 'graphql tests',
      owner: 'tests',
      baseUrl: env('SHOP_URL'),
      auth: apiKey({ header: 'x-api-key', key: secret('SHOP_KEY') }),
      idempotency: { header: 'Idempotency-Key', retention: '24 hours' },
      endpoints: { op: endpoint },
    });
  const data = z.object({ item: Item });

  it('infers the operation, its name and the idempotency from the document', () => {
    expect(endpoints.item.graphql).toMatchObject({ operation: 'query', operationName: 'Item', partial: 'fail' });
    expect(endpoints.item.idempotency).toBe('safe');
    expect(endpoints.reserve.graphql.operation).toBe('mutation');
    expect(endpoints.reserve.idempotency).toBe('key');
    expect(declare(graphql('graphql', { document: '{ items { id } }', data }))).not.toThrow();
  });

  it.each([
    ['an unreadable document', { document: 'query Item { item { id }', data }, 'endpoints.op.graphql.document'],
    ['a document with no operation', { document: 'fragment F on Item { id }', data }, 'endpoints.op.graphql.document'],
    [
      'several operations and no operationName',
      { document: 'query A { a } query B { b }', data },
      'endpoints.op.graphql.operationName',
    ],
    [
      'an operationName the document lacks',
      { document: 'query A { a }', operationName: 'B', data },
      'endpoints.op.graphql.operationName',
    ],
    ['a subscription', { document: 'subscription S { s }', data }, 'endpoints.op.graphql.document'],
    [
      'an operation that disagrees with the document',
      { document: 'mutation M { m }', operation: 'query' as const, data },
      'endpoints.op.graphql.operation',
    ],
    [
      'variables in the document and no schema',
      { document: itemDocument, data },
      'endpoints.op.graphql.variables: the document declares $sku',
    ],
    [
      'a variable the schema lacks',
      { document: itemDocument, variables: z.object({ id: z.string() }), data },
      'endpoints.op.graphql.variables.sku',
    ],
    [
      'a query declared as a keyed write',
      { document: 'query A { a }', idempotency: 'key' as const, data },
      'endpoints.op.graphql: a query is a safe read',
    ],
    [
      'a mutation declared safe',
      { document: 'mutation M { m }', idempotency: 'safe' as const, data },
      'endpoints.op.graphql: a mutation is a write',
    ],
    [
      'a code mapped to a type GraphQL errors cannot be',
      { document: 'query A { a }', codes: { OOPS: 'CircuitOpen' as never }, data },
      'endpoints.op.graphql.codes.OOPS',
    ],
  ])('refuses %s, naming the field', (_what, options, message) => {
    expect(declare(graphql('graphql', options as never))).toThrow(message);
  });
});

describe('scanDocument', () => {
  it('reads operations and their variables past comments, strings, fragments and directives', () => {
    const document = `
      # a comment with a { brace
      query Search($q: String! = "}{", $first: Int @deprecated) @cached {
        search(q: $q, first: $first, note: """ a block { string """) { ...Hit }
      }
      fragment Hit on Item { id }
      mutation Tag($id: ID!) { tag(id: $id) { id } }`;
    expect(scanDocument(document)).toEqual([
      { type: 'query', name: 'Search', variables: ['q', 'first'] },
      { type: 'mutation', name: 'Tag', variables: ['id'] },
    ]);
  });

  it('answers what it could not read', () => {
    expect(scanDocument('query { a')).toMatch(/not closed|no closed/);
    expect(scanDocument('"open')).toBe('a string is not closed');
    expect(scanDocument('')).toBe('the document declares no operation');
  });
});
