import { z } from 'zod';
import { defineIntegration, get, oauth2ClientCredentials, post } from '../kit/define';
import { env, secret } from '../kit/refs';

/** Payments provider, modelled on API People: OAuth2 client credentials, `x-correlation-id` idempotency. */

export const PaymentRequest = z.object({
  amount: z.number().int().positive().describe('amount in minor units (cents)'),
  currency: z
    .string()
    .regex(/^[A-Z]{3}$/, 'ISO 4217 code, upper case')
    .describe('ISO 4217 currency'),
  orderId: z.string().min(1).describe('our order reference'),
  customerRef: z.string().min(1).optional().describe('the customer, as the provider knows them (PII)'),
});
export type PaymentRequest = z.infer<typeof PaymentRequest>;

export const Payment = z.object({
  id: z.string().describe('provider payment id'),
  status: z.literal('succeeded'),
  amount: z.number().int(),
  currency: z.string(),
  orderId: z.string(),
  correlationId: z.string().describe('the idempotency key the payment was created with'),
  createdAt: z.string(),
});
export type Payment = z.infer<typeof Payment>;

export const RefundRequest = z.object({
  paymentId: z.string().min(1),
  amount: z.number().int().positive(),
});

export const Refund = z.object({
  id: z.string(),
  status: z.literal('succeeded'),
  paymentId: z.string(),
  amount: z.number().int(),
  currency: z.string(),
  correlationId: z.string(),
  createdAt: z.string(),
});
export type Refund = z.infer<typeof Refund>;

export const payments = defineIntegration({
  name: 'payments',
  version: 'v1',
  purpose: 'Charge and refund customer payments',
  owner: 'checkout-team',
  support: { contact: 'support@payments.example.com', escalation: '+44 20 7946 0101' },
  baseUrl: env('PAYMENTS_URL', {
    description: 'Base URL of the payments provider (API People).',
    sandbox: { path: 'payments' },
  }),
  auth: oauth2ClientCredentials({
    tokenUrl: 'oauth/token',
    clientId: env('PAYMENTS_CLIENT_ID', {
      description: 'OAuth2 client id for payments.',
      sandbox: { credential: 'SANDBOX_PAYMENTS_CLIENT_ID' },
    }),
    clientSecret: secret('PAYMENTS_CLIENT_SECRET', {
      description: 'OAuth2 client secret for payments.',
      sandbox: { credential: 'SANDBOX_PAYMENTS_CLIENT_SECRET' },
    }),
  }),
  // API People keeps correlation IDs for 24 hours; every keyed call's budget ends well inside that.
  idempotency: { header: 'x-correlation-id', retention: '24 hours' },
  pii: ['customerRef'],
  // A charge is a user flow: during a major incident it fails fast (the order parks or compensates at once)
  // instead of spending the customer's seconds on timeouts.
  statusPage: {
    url: env('PAYMENTS_STATUS_URL', {
      description: "URL of the payments provider's status page summary (Statuspage /api/v2/summary.json).",
      sandbox: { path: 'status/payments/api/v2/summary.json' },
    }),
    components: ['API'],
    preOpenBreaker: true,
  },
  hello: 'hello',
  // The payments gateway takes part in our traces: its request logs can be joined to a charge's trace.
  // Leave it false for any provider that has not agreed to receive our trace ids (the others here).
  propagateTraceContext: true,
  endpoints: {
    hello: get('hello', { response: z.object({ ok: z.literal(true) }), profile: 'userFlow' }),
    createPayment: post('payments', {
      body: PaymentRequest,
      response: Payment,
      profile: 'userFlow',
      lookup: { endpoint: 'findPayment', input: (key) => ({ query: { correlationId: key } }) },
      description: 'Charge a customer; the key makes a resend return the first payment',
    }),
    findPayment: get('payments', {
      query: z.object({ correlationId: z.string().min(1) }),
      response: Payment.nullable(),
      notFound: 'null',
      profile: 'background',
      overrides: { scheduleToClose: '5 minutes' },
      description: 'Find the payment created with a correlation id, or null',
    }),
    refundPayment: post('refunds', {
      body: RefundRequest,
      response: Refund,
      profile: 'background',
      overrides: { scheduleToClose: '2 hours' },
      description: 'Refund a payment (compensation); keyed, so a resend refunds once',
    }),
  },
});
