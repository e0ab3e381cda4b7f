import { z } from 'zod';
import { apiKey, defineIntegration, graphql } from '../kit/define';
import { env, secret } from '../kit/refs';

/**
 * Inventory provider: a GraphQL API (`POST <base>/graphql`) with an API key in `x-api-key`. Its failures
 * come as HTTP 200 with `errors` and an `extensions.code` (UNAUTHENTICATED, BAD_USER_INPUT, NOT_FOUND,
 * RATE_LIMITED with `extensions.retryAfter`), classified by the kit's GraphQL rules. Reservations are
 * deduplicated by `Idempotency-Key`.
 */

export const Sku = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,64}$/, 'letters, digits, _ and -, at most 64')
  .describe('stock-keeping unit, e.g. sku-123');

export const Item = z.object({
  sku: Sku,
  name: z.string().describe('display name'),
  stock: z.number().int().nonnegative().describe('units available to reserve'),
  price: z.number().int().nonnegative().describe('unit price in cents'),
});
export type Item = z.infer<typeof Item>;

/** An item whose price could not be resolved: the provider answers the rest (partial data). */
export const ItemWithoutPrice = Item.extend({ price: Item.shape.price.nullable() });

export const Reservation = z.object({
  reservationId: z.string().min(1).describe('provider reservation id, e.g. rsv_...'),
  sku: Sku,
  quantity: z.number().int().positive(),
});
export type Reservation = z.infer<typeof Reservation>;

const itemDocument = 'query Item($sku: ID!) { item(sku: $sku) { sku name stock price } }';

export const inventory = defineIntegration({
  name: 'inventory',
  version: 'v1',
  purpose: 'Check and reserve stock for orders',
  owner: 'fulfilment-team',
  support: { contact: 'support@inventory.example.com', escalation: '+44 20 7946 0321' },
  baseUrl: env('INVENTORY_URL', {
    description: 'Base URL of the inventory provider (its GraphQL endpoint is <base>/graphql).',
    sandbox: { path: 'inventory' },
  }),
  auth: apiKey({
    header: 'x-api-key',
    key: secret('INVENTORY_API_KEY', {
      description: 'API key of the inventory provider.',
      sandbox: { credential: 'SANDBOX_INVENTORY_API_KEY' },
    }),
  }),
  // Reservation keys are remembered for 24 hours; the background budget (1 hour) ends well inside it.
  idempotency: { header: 'Idempotency-Key', retention: '24 hours' },
  endpoints: {
    getItem: graphql('graphql', {
      document: itemDocument,
      variables: z.object({ sku: Sku }),
      data: z.object({ item: Item.nullable() }),
      notFound: 'null',
      profile: 'userFlow',
      description: 'Read one item (null data.item when the sku does not exist)',
    }),
    getItemPartial: graphql('graphql', {
      document: itemDocument,
      variables: z.object({ sku: Sku }),
      data: z.object({ item: ItemWithoutPrice.nullable() }),
      partial: 'accept',
      profile: 'background',
      description: 'Read one item, accepting an answer with fields the provider could not resolve (degraded)',
    }),
    reserveStock: graphql('graphql', {
      document:
        'mutation ReserveStock($sku: ID!, $quantity: Int!) { reserveStock(sku: $sku, quantity: $quantity) { reservationId sku quantity } }',
      variables: z.object({ sku: Sku, quantity: z.number().int().positive() }),
      data: z.object({ reserveStock: Reservation }),
      profile: 'background',
      description: 'Reserve units of an item; keyed, so a resend reserves once',
    }),
  },
});
