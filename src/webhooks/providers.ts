import { z } from 'zod';
import type { WebhookEventInput } from '../workflows/process-webhook-event.workflow';

/**
 * How a provider signs its webhooks. Every scheme whose header is present must verify, and at least
 * one must be present: a wrong signature next to a right one is tampering, not noise.
 */
export type SignatureScheme =
  /** Standard Webhooks: `webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64> ...` (verified by the `standardwebhooks` package). */
  | { kind: 'standard-webhooks' }
  /**
   * Hex HMAC-SHA256 of the raw body in `header`, keyed with the secret string as given. It signs no
   * timestamp: freshness comes from the `webhook-timestamp` header, which is required but unsigned in
   * this scheme; a replayed body is still a no-op because its (signed) event ID is deduplicated.
   */
  | { kind: 'hex-hmac-sha256'; header: string };

export type ParsedEvent = { ok: true; event: Omit<WebhookEventInput, 'waiter'> } | { ok: false; issues: string[] };

/** One provider the receiver accepts webhooks from, declared: its route, its schemes, its event schema. */
export interface WebhookProviderDefinition {
  /** Route segment: `POST /webhooks/<name>`; also part of workflow IDs. */
  name: string;
  schemes: SignatureScheme[];
  /** Validates a parsed JSON body and keeps only what the workflow needs. */
  parse(body: unknown): ParsedEvent;
}

function issuesOf(error: z.ZodError): string[] {
  return error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`);
}

const envelopeSchema = z.object({
  id: z.string().min(1).max(200).describe('Event ID; the same on every redelivery'),
  type: z
    .string()
    .regex(/^[\w.-]{1,100}$/)
    .describe('e.g. document.completed'),
  createdAt: z.iso.datetime({ offset: true }),
  data: z.record(z.string(), z.unknown()),
});

// Job IDs become part of a workflow ID (`document-job-<jobId>`): a strict charset keeps them usable.
const jobId = z.string().regex(/^[\w-]{1,100}$/, 'expected 1-100 letters, digits, _ or -');
const documentUrl = z.url({ protocol: /^https?$/ }).max(2048);

// A Map, not an object: a type named `constructor`, `__proto__` or `toString` is an unknown type, not a
// property of Object.prototype.
const documentEventData = new Map<string, z.ZodType<{ jobId: string; documentUrl?: string }>>([
  ['document.completed', z.object({ jobId, documentUrl })],
  ['document.failed', z.object({ jobId, documentUrl: documentUrl.optional(), error: z.string().max(500).optional() })],
]);

/** The documents provider (TurboDocx-like): both its signature schemes, job events. */
export const documentsWebhooks: WebhookProviderDefinition = {
  name: 'documents',
  schemes: [{ kind: 'standard-webhooks' }, { kind: 'hex-hmac-sha256', header: 'x-turbodocx-signature' }],
  parse(body) {
    const envelope = envelopeSchema.safeParse(body);
    if (!envelope.success) return { ok: false, issues: issuesOf(envelope.error) };
    const { id, type, createdAt } = envelope.data;
    const dataSchema = documentEventData.get(type);
    // Unknown types are accepted (and recorded as ignored by the workflow) but carry no data along.
    if (!dataSchema) return { ok: true, event: { provider: 'documents', eventId: id, type, createdAt, data: {} } };
    const data = dataSchema.safeParse(envelope.data.data);
    if (!data.success) return { ok: false, issues: issuesOf(data.error).map((i) => `data.${i}`) };
    const kept = {
      jobId: data.data.jobId,
      ...(data.data.documentUrl !== undefined ? { documentUrl: data.data.documentUrl } : {}),
    };
    return { ok: true, event: { provider: 'documents', eventId: id, type, createdAt, data: kept } };
  },
};

export const webhookProviders = { documents: documentsWebhooks } as const;
export type WebhookProviderName = keyof typeof webhookProviders;
