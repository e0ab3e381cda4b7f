import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { Provider, SandboxContext } from './context';
import {
  errorReply,
  header,
  json,
  parseBody,
  safeEqual,
  sleep,
  validate,
  type Reply,
  type SandboxRequest,
} from './http';
import { idempotencyKey } from './idempotency';

/** CRM: slow/flaky reads, cursor pagination over a fixed data set, idempotent PATCH. */

const tiers = ['free', 'pro', 'enterprise'] as const;
type Tier = (typeof tiers)[number];

interface Customer {
  id: string;
  name: string;
  email: string;
  tier: Tier;
  notes?: string;
  updatedAt?: string;
}

export const customerCount = 250;
const firstNames = ['Ada', 'Grace', 'Alan', 'Edsger', 'Barbara', 'Donald', 'Frances', 'Ken', 'Margaret', 'Niklaus'];
const lastNames = [
  'Lovelace',
  'Hopper',
  'Turing',
  'Dijkstra',
  'Liskov',
  'Knuth',
  'Allen',
  'Thompson',
  'Hamilton',
  'Wirth',
];

const idPattern = /^[A-Za-z0-9_-]{1,64}$/;
/** Ids with this prefix never exist, so clients can exercise their not-found path. */
const missingPrefix = 'missing';

function customerId(index: number): string {
  return `cus_${String(index + 1).padStart(4, '0')}`;
}

/** Same id, same customer, every run: the data is derived from a hash of the id. */
export function fakeCustomer(id: string): Customer {
  const digest = createHash('sha256').update(id).digest();
  const first = firstNames[(digest[0] ?? 0) % firstNames.length] ?? 'Ada';
  const last = lastNames[(digest[1] ?? 0) % lastNames.length] ?? 'Lovelace';
  const tier = tiers[(digest[2] ?? 0) % tiers.length] ?? 'free';
  return { id, name: `${first} ${last}`, email: `${first}.${last}.${id}@example.com`.toLowerCase(), tier };
}

const listQuerySchema = z.object({
  cursor: z.string().min(1).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(50),
});

const patchSchema = z
  .object({ notes: z.string().max(10_000).optional(), tier: z.enum(tiers).optional() })
  .refine((p) => p.notes !== undefined || p.tier !== undefined, { message: 'expected notes or tier' });

/** Opaque cursors, as real APIs use: clients must not compute them. */
function encodeCursor(offset: number): string {
  return Buffer.from(`o:${offset}`, 'utf8').toString('base64url');
}

function decodeCursor(cursor: string): number | null {
  const match = /^o:(\d+)$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  const offset = match?.[1] !== undefined ? Number(match[1]) : NaN;
  return Number.isSafeInteger(offset) && offset <= customerCount ? offset : null;
}

export function crmProvider(ctx: SandboxContext): Provider {
  const updates = new Map<string, Partial<Pick<Customer, 'notes' | 'tier' | 'updatedAt'>>>();
  let reads = 0;

  function authenticate(req: SandboxRequest): Reply | null {
    const key = header(req, 'x-api-key');
    return key !== undefined && safeEqual(key, ctx.credentials.crmApiKey) ? null : errorReply(401, 'unauthorized');
  }

  function current(id: string): Customer {
    return { ...fakeCustomer(id), ...updates.get(id) };
  }

  /**
   * Configured latency, then a deterministic failure spread: with rate r, read n fails when
   * floor((n+1)r) > floor(nr), so 0.5 fails every 2nd read and 1 fails all of them.
   */
  async function flakyRead(): Promise<Reply | null> {
    const { latencyMs, failureRate } = ctx.config.crm;
    await sleep(latencyMs, ctx.signal());
    const n = reads;
    reads += 1;
    const fails = Math.floor((n + 1) * failureRate) > Math.floor(n * failureRate);
    return fails ? errorReply(503, 'service_unavailable') : null;
  }

  function exists(id: string): boolean {
    return idPattern.test(id) && !id.startsWith(missingPrefix);
  }

  async function getCustomer(req: SandboxRequest): Promise<Reply> {
    const denied = authenticate(req);
    if (denied) return denied;
    const failed = await flakyRead();
    if (failed) return failed;
    const id = req.params.id ?? '';
    return exists(id) ? json(200, current(id)) : errorReply(404, 'not_found');
  }

  /** API v2 of the same read: the customer wrapped in an envelope, `tier` renamed `plan` (for dark launches). */
  function getCustomerV2(req: SandboxRequest): Reply {
    const denied = authenticate(req);
    if (denied) return denied;
    const id = req.params.id ?? '';
    if (!exists(id)) return errorReply(404, 'not_found');
    const { tier, ...rest } = current(id);
    return json(200, { apiVersion: 2, customer: { ...rest, plan: tier } });
  }

  async function listCustomers(req: SandboxRequest): Promise<Reply> {
    const denied = authenticate(req);
    if (denied) return denied;
    const query = validate(listQuerySchema, Object.fromEntries(req.query));
    if (!query.ok) return query.reply;
    const offset = query.value.cursor === undefined ? 0 : decodeCursor(query.value.cursor);
    if (offset === null) return errorReply(400, 'invalid_cursor');
    const failed = await flakyRead();
    if (failed) return failed;
    const end = Math.min(customerCount, offset + query.value.limit);
    const items: Customer[] = [];
    for (let i = offset; i < end; i += 1) items.push(current(customerId(i)));
    return json(200, { items, nextCursor: end < customerCount ? encodeCursor(end) : null });
  }

  function patchCustomer(req: SandboxRequest): Reply {
    const denied = authenticate(req);
    if (denied) return denied;
    const id = req.params.id ?? '';
    if (!exists(id)) return errorReply(404, 'not_found');
    const key = idempotencyKey(req, 'idempotency-key', { required: false, missingError: '' });
    if (!key.ok) return key.reply;
    const body = parseBody(req, patchSchema);
    if (!body.ok) return body.reply;
    const patch = body.value;
    // The id is part of the fingerprint: one key must not update two customers.
    return ctx.idempotency.run('crm.patch', key.value, { id, patch }, () => {
      const previous = updates.get(id);
      updates.set(id, {
        ...previous,
        ...(patch.notes !== undefined ? { notes: patch.notes } : {}),
        ...(patch.tier !== undefined ? { tier: patch.tier } : {}),
        updatedAt: new Date(ctx.now()).toISOString(),
      });
      ctx.ledger.record({
        provider: 'crm',
        effect: 'customer.updated',
        idempotencyKey: key.value,
        resourceId: id,
        request: { fields: Object.keys(patch).filter((k) => k === 'notes' || k === 'tier') },
      });
      return json(200, current(id));
    });
  }

  return {
    name: 'crm',
    routes: [
      { method: 'GET', pattern: '/crm/customers', handle: listCustomers },
      { method: 'GET', pattern: '/crm/customers/:id', handle: getCustomer },
      { method: 'GET', pattern: '/crm/v2/customers/:id', handle: getCustomerV2 },
      { method: 'PATCH', pattern: '/crm/customers/:id', handle: patchCustomer },
    ],
    reset() {
      updates.clear();
      reads = 0;
    },
    clearRecords() {
      // Customer updates are state, not records: they survive a ledger clear.
    },
  };
}
