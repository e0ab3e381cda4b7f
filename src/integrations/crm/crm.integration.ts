import { z } from 'zod';
import { apiKey, defineIntegration, get, patch } from '../kit/define';
import { env, secret } from '../kit/refs';

/**
 * CRM provider: an API key in `x-api-key`, reads that are slow and sometimes fail (503, retried by
 * the profile), opaque-cursor pagination, and a PATCH deduplicated by `Idempotency-Key`.
 * Customer names and email addresses are PII: never logged.
 */

export const CustomerTier = z.enum(['free', 'pro', 'enterprise']).describe('subscription tier');
export type CustomerTier = z.infer<typeof CustomerTier>;

export const Customer = z.object({
  id: z.string().min(1).describe('provider customer id, e.g. cus_0001'),
  name: z.string().describe('full name (PII)'),
  email: z
    .string()
    .describe('email address as the CRM stores it (PII); not re-validated, so one odd record cannot fail a whole page'),
  tier: CustomerTier,
  notes: z.string().optional().describe('free-text notes, set through updateCustomer'),
  updatedAt: z.iso.datetime().optional().describe('when the customer was last updated through the API'),
});
export type Customer = z.infer<typeof Customer>;

export const CustomerParams = z.object({
  id: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/, 'letters, digits, _ and -, at most 64')
    .describe('provider customer id'),
});
export type CustomerParams = z.infer<typeof CustomerParams>;

/** The provider's page size cap. */
export const MAX_PAGE_SIZE = 100;

export const ListCustomersQuery = z.object({
  cursor: z.string().min(1).optional().describe('opaque cursor from the previous page; absent for the first page'),
  limit: z.number().int().min(1).max(MAX_PAGE_SIZE).optional().describe('page size (provider default 50)'),
});
export type ListCustomersQuery = z.infer<typeof ListCustomersQuery>;

export const CustomerPage = z.object({
  items: z.array(Customer).describe('customers of this page, in a stable order'),
  nextCursor: z.string().min(1).nullable().describe('pass as cursor for the next page; null on the last page'),
});
export type CustomerPage = z.infer<typeof CustomerPage>;

export const CustomerUpdate = z
  .object({
    notes: z.string().max(10_000).optional().describe('replaces the notes'),
    tier: CustomerTier.optional(),
  })
  .refine((u) => u.notes !== undefined || u.tier !== undefined, { message: 'expected notes or tier' })
  .describe('the fields to change; at least one');
export type CustomerUpdate = z.infer<typeof CustomerUpdate>;

/** The CRM's variables, shared by every version of its API (crm-v2.integration.ts). */
export const crmUrl = env('CRM_URL', {
  description: 'Base URL of the CRM (API v1 and v2).',
  sandbox: { path: 'crm' },
});
export const crmAuth = apiKey({
  header: 'x-api-key',
  key: secret('CRM_API_KEY', {
    description: 'API key of the CRM (API v1 and v2).',
    sandbox: { credential: 'SANDBOX_CRM_API_KEY' },
  }),
});

export const crm = defineIntegration({
  name: 'crm',
  version: 'v1',
  purpose: 'Read and annotate customer records',
  owner: 'customer-success-team',
  support: { contact: '#crm-vendor-support', escalation: '+1 202 555 0187' },
  baseUrl: crmUrl,
  auth: crmAuth,
  // PATCH keys are remembered for 24 hours; the background budget (1 hour) ends well inside it.
  idempotency: { header: 'Idempotency-Key', retention: '24 hours' },
  pii: ['email', 'name'],
  endpoints: {
    getCustomer: get('customers/:id', {
      params: CustomerParams,
      response: Customer.nullable(),
      notFound: 'null',
      profile: 'userFlow',
      // A customer record changes rarely: reuse it for 30 s, and while the CRM is down serve one up to
      // 10 minutes older (recorded as degraded). No default: an invented customer would be wrong.
      fallback: { cache: { fresh: '30 seconds', stale: '10 minutes' } },
      description: 'Read one customer, or null when the id does not exist',
    }),
    listCustomers: get('customers', {
      query: ListCustomersQuery,
      response: CustomerPage,
      profile: 'background',
      description: 'One page of customers; follow nextCursor until it is null',
    }),
    updateCustomer: patch('customers/:id', {
      params: CustomerParams,
      body: CustomerUpdate,
      response: Customer,
      profile: 'background',
      description: "Change a customer's notes or tier; keyed, so a resend applies once",
    }),
  },
});
