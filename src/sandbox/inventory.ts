import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { Provider, SandboxContext } from './context';
import { header, json, parseJson, randomId, safeEqual, type Reply, type SandboxRequest } from './http';
import { idempotencyKey } from './idempotency';

/**
 * Inventory: a GraphQL API at `POST /inventory/graphql`, answering as GraphQL servers do: HTTP 200 with
 * `errors` (each with `extensions.code`) for a bad key, bad input, an unknown item or a stock shortage.
 * Two operations, told apart by their root field: the query `item(sku)` and the keyed mutation
 * `reserveStock(sku, quantity)` (deduplicated by `Idempotency-Key`, recorded in the ledger).
 * Not a GraphQL engine: selection sets are not interpreted, every field of the root object is answered.
 */

interface Item {
  sku: string;
  name: string;
  stock: number;
  /** Unit price in cents. */
  price: number;
}

/** Skus with this prefix never exist, so clients can exercise their not-found path. */
const missingPrefix = 'missing';
const skuPattern = /^[A-Za-z0-9_-]{1,64}$/;

/** Same sku, same item, every run. */
function fakeItem(sku: string): Item {
  const digest = createHash('sha256').update(sku).digest();
  return { sku, name: `Item ${sku}`, stock: 10 + ((digest[0] ?? 0) % 90), price: 100 + (digest[1] ?? 0) * 10 };
}

const requestSchema = z.object({
  query: z.string().min(1),
  variables: z.record(z.string(), z.unknown()).nullable().optional(),
  operationName: z.string().nullable().optional(),
});

type GraphqlError = { message: string; path?: (string | number)[]; extensions: { code: string } };

const error = (code: string, message: string, path?: string[]): GraphqlError => ({
  message,
  ...(path ? { path } : {}),
  extensions: { code },
});

/** Errors and no data: the answer to a request that could not run at all. */
const errorsOnly = (...errors: GraphqlError[]): Reply => json(200, { errors });

export function inventoryProvider(ctx: SandboxContext): Provider {
  const reserved = new Map<string, number>();

  function available(sku: string): number {
    return fakeItem(sku).stock - (reserved.get(sku) ?? 0);
  }

  function handle(req: SandboxRequest): Reply {
    const key = header(req, 'x-api-key');
    if (key === undefined || !safeEqual(key, ctx.credentials.inventoryApiKey))
      return errorsOnly(error('UNAUTHENTICATED', 'missing or unknown API key'));
    const raw = parseJson(req);
    const parsed = raw.ok ? requestSchema.safeParse(raw.value) : undefined;
    if (!parsed?.success) return json(400, { errors: [error('BAD_REQUEST', 'expected { query, variables }')] });
    const { query, variables } = parsed.data;
    if (!/^\s*(#[^\n]*\n\s*)*(query|mutation)\b|^\s*\{/.test(query))
      return errorsOnly(error('GRAPHQL_PARSE_FAILED', 'Syntax Error: expected a query or a mutation'));
    const vars = variables ?? {};
    if (/^\s*(#[^\n]*\n\s*)*mutation\b/.test(query)) {
      if (!/\breserveStock\s*\(/.test(query))
        return errorsOnly(error('GRAPHQL_VALIDATION_FAILED', 'Cannot query field on type "Mutation"'));
      return reserveStock(req, vars);
    }
    if (!/\bitem\s*\(/.test(query))
      return errorsOnly(error('GRAPHQL_VALIDATION_FAILED', 'Cannot query field on type "Query"'));
    const sku = vars.sku;
    if (typeof sku !== 'string' || !skuPattern.test(sku))
      return errorsOnly(error('BAD_USER_INPUT', 'Variable "$sku" got invalid value'));
    if (sku.startsWith(missingPrefix))
      return json(200, { data: { item: null }, errors: [error('NOT_FOUND', `No item with sku ${sku}`, ['item'])] });
    return json(200, { data: { item: { ...fakeItem(sku), stock: available(sku) } } });
  }

  function reserveStock(req: SandboxRequest, vars: Record<string, unknown>): Reply {
    const key = idempotencyKey(req, 'idempotency-key', { required: true, missingError: 'idempotency_key_required' });
    if (!key.ok) return key.reply;
    const { sku, quantity } = vars;
    if (typeof sku !== 'string' || !skuPattern.test(sku) || !Number.isInteger(quantity) || (quantity as number) < 1)
      return errorsOnly(error('BAD_USER_INPUT', 'Variables "$sku" and "$quantity" (a positive Int) are required'));
    const count = quantity as number;
    if (sku.startsWith(missingPrefix))
      return json(200, {
        data: { reserveStock: null },
        errors: [error('NOT_FOUND', `No item with sku ${sku}`, ['reserveStock'])],
      });
    return ctx.idempotency.run('inventory.reserve', key.value, { sku, quantity: count }, () => {
      if (count > available(sku))
        return json(200, {
          data: { reserveStock: null },
          errors: [error('BAD_USER_INPUT', `only ${available(sku)} of ${sku} left`, ['reserveStock'])],
        });
      reserved.set(sku, (reserved.get(sku) ?? 0) + count);
      const reservationId = randomId('rsv');
      ctx.ledger.record({
        provider: 'inventory',
        effect: 'stock.reserved',
        idempotencyKey: key.value,
        resourceId: reservationId,
        request: { sku, quantity: count },
      });
      return json(200, { data: { reserveStock: { reservationId, sku, quantity: count } } });
    });
  }

  return {
    name: 'inventory',
    routes: [{ method: 'POST', pattern: '/inventory/graphql', handle }],
    reset() {
      reserved.clear();
    },
    clearRecords() {
      // Reservations are stock state, not records: they survive a ledger clear.
    },
  };
}
