import { randomUUID } from 'node:crypto';
import { FailureType } from '../../src/integrations/kit/failures';
import { inventory } from '../../src/integrations/inventory/inventory.integration';
import { IntegrationEngine, type ActivityInput } from '../../src/integrations/runtime/engine';
import { failureOf } from '../support/failures';
import { sandboxAdmin } from '../support/sandbox';
import { testLogger } from '../support/stack';

/**
 * The GraphQL endpoint kind over real HTTP: the inventory integration against the sandbox's GraphQL
 * provider, faults injected by admin rules, reservations checked in the sandbox's ledger. No mocks.
 */

const runtimes: IntegrationEngine[] = [];
function newRuntime(env: NodeJS.ProcessEnv = process.env): IntegrationEngine {
  const rt = new IntegrationEngine({ logger: testLogger().child({ component: 'graphql-test' }), env });
  runtimes.push(rt);
  return rt;
}

let runtime: IntegrationEngine;
beforeAll(() => {
  runtime = newRuntime();
});
afterEach(() => sandboxAdmin.clearFaults());
afterAll(async () => {
  await Promise.all(runtimes.map((rt) => rt.close()));
});

type Endpoint = keyof typeof inventory.endpoints;
const call = (endpoint: Endpoint, input: ActivityInput, rt = runtime) =>
  rt.call(inventory, endpoint, input, { attempt: 1 });

/** Applies `fault` to the next request (only) to the GraphQL endpoint. */
const faultOnce = (fault: string, params?: Record<string, string | number>) =>
  sandboxAdmin.fault({ method: 'POST', path: '/inventory/graphql', fault, params, times: 1 });

const sku = () => `sku-${randomUUID().slice(0, 8)}`;
const reservations = async (key: string) =>
  (await sandboxAdmin.ledger()).filter((e) => e.effect === 'stock.reserved' && e.idempotencyKey === key);

describe('GraphQL against the sandbox: queries and mutations', () => {
  it('a query answers its checked data', async () => {
    const id = sku();
    const answer = (await call('getItem', { variables: { sku: id } })) as { item: { sku: string; stock: number } };
    expect(answer.item.sku).toBe(id);
    expect(answer.item.stock).toBeGreaterThan(0);
  });

  it("an unknown sku (NOT_FOUND at item) is the data with its null on a notFound: 'null' endpoint", async () => {
    await expect(call('getItem', { variables: { sku: 'missing-1' } })).resolves.toEqual({ item: null });
  });

  it('a mutation resent with the same idempotency key reserves once', async () => {
    const key = `graphql-${randomUUID()}`;
    const variables = { sku: sku(), quantity: 2 };
    const first = (await call('reserveStock', { key, variables })) as { reserveStock: { reservationId: string } };
    const again = (await call('reserveStock', { key, variables })) as { reserveStock: { reservationId: string } };
    expect(again.reserveStock.reservationId).toBe(first.reserveStock.reservationId);
    expect(await reservations(key)).toHaveLength(1);
  });

  it('a mutation the provider refuses (BAD_USER_INPUT: not enough stock) is RequestRejected, nothing reserved', async () => {
    const key = `graphql-${randomUUID()}`;
    const f = await failureOf(call('reserveStock', { key, variables: { sku: sku(), quantity: 1000 } }));
    expect(f).toMatchObject({ type: FailureType.RequestRejected, nonRetryable: true });
    expect(f.message).toContain('BAD_USER_INPUT at reserveStock');
    expect(f.message).not.toContain('left'); // the provider's message stays out of the failure
    expect(await reservations(key)).toHaveLength(0);
  });

  it('a wrong API key (UNAUTHENTICATED in a 200) is Unauthorized', async () => {
    const rt = newRuntime({ ...process.env, INVENTORY_API_KEY: 'not-the-inventory-key' });
    const f = await failureOf(call('getItem', { variables: { sku: sku() } }, rt));
    expect(f).toMatchObject({ type: FailureType.Unauthorized, nonRetryable: true });
  });
});

describe('GraphQL against the sandbox: faults', () => {
  it.each([
    ['UNAUTHENTICATED', FailureType.Unauthorized, true],
    ['FORBIDDEN', FailureType.RequestRejected, true],
    ['BAD_USER_INPUT', FailureType.RequestRejected, true],
    ['GRAPHQL_VALIDATION_FAILED', FailureType.RequestRejected, true],
    ['GRAPHQL_PARSE_FAILED', FailureType.RequestRejected, true],
    ['NOT_FOUND', FailureType.NotFound, true],
    ['INTERNAL_SERVER_ERROR', FailureType.ServerError, false],
  ])('errors only with code %s is %s', async (code, type, nonRetryable) => {
    await faultOnce('graphql-errors', { code });
    const f = await failureOf(call('getItemPartial', { variables: { sku: sku() } }));
    expect(f).toMatchObject({ type, nonRetryable });
    expect(f.message).toContain(code);
  });

  it('errors only with no code is ServerError, retryable', async () => {
    await faultOnce('graphql-errors');
    const f = await failureOf(call('getItem', { variables: { sku: sku() } }));
    expect(f).toMatchObject({ type: FailureType.ServerError, nonRetryable: false });
  });

  it('RATE_LIMITED with extensions.retryAfter is RateLimited, retried after it (capped by the profile)', async () => {
    await faultOnce('graphql-errors', { code: 'RATE_LIMITED', retryAfter: 1 });
    const f = await failureOf(call('getItem', { variables: { sku: sku() } }));
    expect(f).toMatchObject({ type: FailureType.RateLimited, nonRetryable: false });
    expect(Number(f.nextRetryDelay)).toBe(1000); // userFlow: no jitter, cap 2 s
  });

  it("partial data on a query under partial: 'fail' is classified by its error", async () => {
    await faultOnce('graphql-partial', { field: 'price' });
    const f = await failureOf(call('getItem', { variables: { sku: sku() } }));
    expect(f).toMatchObject({ type: FailureType.ServerError, nonRetryable: false });
    expect(f.message).toContain('INTERNAL_SERVER_ERROR at item.price');
  });

  it("partial data under partial: 'accept' is the data with the errors' codes and paths", async () => {
    await faultOnce('graphql-partial', { field: 'price' });
    const id = sku();
    const answer = (await call('getItemPartial', { variables: { sku: id } })) as {
      data: { item: { sku: string; price: number | null } };
      errors: unknown[];
    };
    expect(answer.data.item).toMatchObject({ sku: id, price: null });
    expect(answer.errors).toEqual([{ code: 'INTERNAL_SERVER_ERROR', path: ['item', 'price'] }]);
  });

  it('partial data from a mutation is InvalidResponse, and the reservation was made', async () => {
    await faultOnce('graphql-partial', { field: 'reservationId' });
    const key = `graphql-${randomUUID()}`;
    const f = await failureOf(call('reserveStock', { key, variables: { sku: sku(), quantity: 1 } }));
    expect(f).toMatchObject({ type: FailureType.InvalidResponse, nonRetryable: true });
    expect(await reservations(key)).toHaveLength(1);
  });

  it('a 503 is ServerError, as for any endpoint', async () => {
    await faultOnce('status', { code: 503 });
    const f = await failureOf(call('getItem', { variables: { sku: sku() } }));
    expect(f).toMatchObject({ type: FailureType.ServerError, nonRetryable: false });
  });

  it('a body that is not a GraphQL answer is InvalidResponse', async () => {
    await faultOnce('schema-violation');
    const f = await failureOf(call('getItem', { variables: { sku: sku() } }));
    expect(f).toMatchObject({ type: FailureType.InvalidResponse, nonRetryable: true });
  });
});
