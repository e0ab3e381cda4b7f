import { z } from 'zod';
import { apiKey, defineIntegration, post } from '../kit/define';
import { env, secret } from '../kit/refs';
import { EMAIL_ADDRESS, MAX_BATCH_MESSAGES, MAX_BODY_LENGTH, MAX_SUBJECT_LENGTH } from './email-message';

export { MAX_BATCH_MESSAGES } from './email-message';

/**
 * Transactional email provider, modelled on SendGrid: `Authorization: Bearer <key>`, a hard request
 * rate limit (429 with Retry-After, which Temporal honours through `nextRetryDelay`), single and batch
 * send, both answered 202. `Idempotency-Key` is optional at the provider; we always send one, so a
 * resent message is delivered once. Recipient addresses are PII: never logged, at any depth.
 */

// The limits and the address pattern are shared with `checkEmailMessage` (email-message.ts), the zod-free
// check the email batcher's workflow code applies to each queued message.
export const EmailMessage = z.object({
  to: z.email({ pattern: EMAIL_ADDRESS }).describe('recipient address (PII: redacted from every log line)'),
  subject: z.string().min(1).max(MAX_SUBJECT_LENGTH).describe('subject line (RFC 5322 caps a line at 998 characters)'),
  body: z.string().max(MAX_BODY_LENGTH).describe('plain-text body'),
});
export type EmailMessage = z.infer<typeof EmailMessage>;

export const EmailBatch = z.object({
  messages: z
    .array(EmailMessage)
    .min(1)
    .max(MAX_BATCH_MESSAGES)
    .describe(`1 to ${MAX_BATCH_MESSAGES} messages, accepted or refused together`),
});
export type EmailBatch = z.infer<typeof EmailBatch>;

export const EmailAccepted = z.object({
  messageId: z.string().min(1).describe('provider message id; the same id when a keyed send is resent'),
});
export type EmailAccepted = z.infer<typeof EmailAccepted>;

export const EmailBatchAccepted = z.object({
  messageIds: z.array(z.string().min(1)).min(1).describe('one provider message id per message, in request order'),
});
export type EmailBatchAccepted = z.infer<typeof EmailBatchAccepted>;

export const email = defineIntegration({
  name: 'email',
  version: 'v1',
  purpose: 'Send transactional email (receipts, notifications)',
  owner: 'notifications-team',
  support: { contact: 'support@email.example.com', escalation: '+44 20 7946 0202' },
  baseUrl: env('EMAIL_URL', {
    description: 'Base URL of the email provider (SendGrid-like).',
    sandbox: { path: 'email' },
  }),
  auth: apiKey({
    header: 'authorization',
    scheme: 'Bearer',
    key: secret('EMAIL_API_KEY', {
      description: 'API key of the email provider, sent as a Bearer token.',
      sandbox: { credential: 'SANDBOX_EMAIL_API_KEY' },
    }),
  }),
  // Keys are remembered for 24 hours; the background budget (1 hour) ends well inside it.
  idempotency: { header: 'Idempotency-Key', retention: '24 hours' },
  pii: ['to'],
  statusPage: {
    url: env('EMAIL_STATUS_URL', {
      description: "URL of the email provider's status page summary (Statuspage /api/v2/summary.json).",
      sandbox: { path: 'status/email/api/v2/summary.json' },
    }),
  },
  // The provider allows 100 requests per minute, a sliding window: each worker process mirrors it (a slot
  // is reused a minute after its answer, so skew and latency cannot overrun it) and the queue runs at its
  // rate, so the whole allowance is used (bench/email-rate.ts) with no 429 from a single process.
  traffic: { ratePerSecond: 100 / 60, window: { limit: 100, per: '1 minute' } },
  // Billed per request (a batch is one), in USD: integration_cost_total, alerted on over this per day.
  costBudgetPerDay: 20,
  endpoints: {
    send: post('send', {
      body: EmailMessage,
      response: EmailAccepted,
      profile: 'background',
      // 202 when accepted; a resend with the same key is answered 200 with the first result.
      successStatus: [200, 202],
      description: 'Send one message; keyed, so a resend is delivered once. 429s wait for Retry-After',
      pricePerCall: 0.001,
    }),
    sendBatch: post('batch', {
      body: EmailBatch,
      response: EmailBatchAccepted,
      profile: 'background',
      successStatus: [200, 202],
      description: `Send up to ${MAX_BATCH_MESSAGES} messages in one request (one rate-limit slot); keyed`,
      pricePerCall: 0.01,
    }),
  },
});
