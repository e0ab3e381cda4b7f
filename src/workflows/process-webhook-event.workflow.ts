import { getExternalWorkflowHandle, log, sleep } from '@temporalio/workflow';
import { documentJobFinished, documentJobWorkflowId, type DocumentJobResult } from '../contracts/messages';

/**
 * A verified, deduplicated webhook event, as the receiver hands it over. Only the fields a route needs
 * are kept (validated by the receiver's zod schema): histories never hold whole payloads.
 */
export interface WebhookEventInput {
  /** Route segment it arrived on, e.g. `documents`. */
  provider: string;
  /** The provider's event ID; the workflow ID is derived from it (deduplication). */
  eventId: string;
  /** e.g. `document.completed`. */
  type: string;
  /** When the provider says the event happened (ISO 8601). */
  createdAt: string;
  /** Empty for event types nobody handles. */
  data: { jobId?: string; documentUrl?: string };
  /** How long to keep trying when nobody waits for the event yet. */
  waiter?: {
    /** Signal attempts, the first one included. @default 5 */
    attempts?: number;
    /** Durable timer between attempts. @default 2000 ms */
    intervalMs?: number;
  };
}

export type ProcessWebhookEventResult =
  | { outcome: 'signalled'; type: string; target: string; attempts: number }
  | { outcome: 'no-waiter'; type: string; target: string; attempts: number; lastError: string }
  | { outcome: 'ignored'; type: string; reason: string };

const documentJobStatus: Record<string, DocumentJobResult['status'] | undefined> = {
  'document.completed': 'completed',
  'document.failed': 'failed',
};

/**
 * Routes one webhook event to whoever waits for it. Started by the receiver with the event ID as the
 * workflow ID, so each event is processed once however often the provider delivers it.
 */
export async function processWebhookEvent(event: WebhookEventInput): Promise<ProcessWebhookEventResult> {
  // Own keys only: a type such as `constructor` or `__proto__` is an unknown type, ignored like any other
  // (real types route exactly as before).
  const status =
    event.provider === 'documents' && Object.hasOwn(documentJobStatus, event.type)
      ? documentJobStatus[event.type]
      : undefined;
  if (status === undefined) {
    log.info('webhook event ignored', { provider: event.provider, type: event.type });
    return { outcome: 'ignored', type: event.type, reason: `no route for ${event.provider} ${event.type}` };
  }
  const { jobId } = event.data;
  if (jobId === undefined) {
    // The receiver's schema requires it for these types; kept so a bad input ends visibly, not in a loop.
    return { outcome: 'ignored', type: event.type, reason: 'event has no jobId' };
  }
  const result: DocumentJobResult = {
    jobId,
    status,
    ...(event.data.documentUrl !== undefined ? { documentUrl: event.data.documentUrl } : {}),
    source: 'webhook',
    eventId: event.eventId,
  };
  return signalWithPatience(documentJobWorkflowId(jobId), result, event);
}

/**
 * A webhook may arrive before the waiting workflow starts (or after it ended): retry a few times on
 * durable timers, then finish saying nobody waited. A late or duplicate webhook is harmless.
 */
async function signalWithPatience(
  target: string,
  result: DocumentJobResult,
  event: WebhookEventInput,
): Promise<ProcessWebhookEventResult> {
  const attempts = Math.max(1, event.waiter?.attempts ?? 5);
  const intervalMs = Math.max(0, event.waiter?.intervalMs ?? 2000);
  let lastError = '';
  for (let attempt = 1; attempt <= attempts; attempt += 1) {
    try {
      await getExternalWorkflowHandle(target).signal(documentJobFinished, result);
      return { outcome: 'signalled', type: event.type, target, attempts: attempt };
    } catch (err) {
      // Not found (not started yet, or already closed) is the expected failure here.
      lastError = err instanceof Error ? err.message : String(err);
    }
    if (attempt < attempts) await sleep(intervalMs);
  }
  log.warn('no workflow waited for the webhook event', { target, type: event.type, attempts });
  return { outcome: 'no-waiter', type: event.type, target, attempts, lastError };
}
