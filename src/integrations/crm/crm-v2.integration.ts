import { z } from 'zod';
import { defineIntegration, get } from '../kit/define';
import { crmAuth, crmUrl, CustomerParams, CustomerTier } from './crm.integration';

/**
 * Version 2 of the CRM API, declared beside v1 (enterprise seed: "create the new integration alongside
 * the old, migrate gradually, monitor for differences"). v2 wraps the customer in an envelope and
 * renames `tier` to `plan`. It runs in shadow (dark launch) and, for a canary share of customers, for real.
 */
export const CustomerV2 = z.object({
  apiVersion: z.literal(2),
  customer: z.object({
    id: z.string().min(1),
    name: z.string().describe('full name (PII)'),
    email: z.string().describe('email address (PII)'),
    plan: CustomerTier.describe('v1 calls it tier'),
    notes: z.string().optional(),
    updatedAt: z.iso.datetime().optional(),
  }),
});
export type CustomerV2 = z.infer<typeof CustomerV2>;

export const crmV2 = defineIntegration({
  name: 'crmv2',
  version: 'v2',
  purpose: 'Read customer records through CRM API v2 (dark launch, then canary)',
  owner: 'customer-success-team',
  support: { contact: '#crm-vendor-support', escalation: '+1 202 555 0187' },
  // The same CRM, the same variables (CRM_URL, CRM_API_KEY).
  baseUrl: crmUrl,
  auth: crmAuth,
  pii: ['email', 'name'],
  endpoints: {
    getCustomer: get('v2/customers/:id', {
      params: CustomerParams,
      response: CustomerV2.nullable(),
      notFound: 'null',
      profile: 'userFlow',
      description: 'Read one customer (v2 envelope), or null when the id does not exist',
    }),
  },
});

// v2's answer in v1's shape (`customerFromV2`) is in crm-v2.mapping.ts: workflow code uses it, without zod.
