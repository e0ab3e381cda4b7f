import { createHmac } from 'node:crypto';
import type { SandboxContext } from './context';
import { sleep } from './http';

export interface WebhookEvent {
  id: string;
  type: string;
  createdAt: string;
  data: Record<string, unknown>;
}

/** One delivery attempt, for `GET /admin/webhooks`. */
export interface DeliveryRecord {
  eventId: string;
  type: string;
  copy: number;
  attempt: number;
  at: string;
  status: number | null;
  error?: string;
  delivered: boolean;
}

/** Standard Webhooks: `whsec_` secrets are base64 after the prefix, anything else is used as raw bytes. */
export function webhookKey(secret: string): Buffer {
  return secret.startsWith('whsec_')
    ? Buffer.from(secret.slice('whsec_'.length), 'base64')
    : Buffer.from(secret, 'utf8');
}

export function standardSignature(secret: string, id: string, timestamp: number, body: string): string {
  const mac = createHmac('sha256', webhookKey(secret)).update(`${id}.${timestamp}.${body}`).digest('base64');
  return `v1,${mac}`;
}

/** TurboDocx-style scheme: hex HMAC of the raw body, keyed with the secret string as given. */
export function turbodocxSignature(secret: string, body: string): string {
  return createHmac('sha256', secret).update(body).digest('hex');
}

const attemptTimeoutMs = 5_000;

export class WebhookSender {
  private deliveries: DeliveryRecord[] = [];

  constructor(private readonly ctx: SandboxContext) {}

  /** Fire-and-forget: at-least-once delivery with the configured misbehaviour; never throws. */
  send(event: WebhookEvent): void {
    void this.deliver(event).catch(() => undefined);
  }

  list(): DeliveryRecord[] {
    return this.deliveries.map((d) => ({ ...d }));
  }

  reset(): void {
    this.deliveries = [];
  }

  private async deliver(event: WebhookEvent): Promise<void> {
    const { webhook } = this.ctx.config;
    const target = webhook.target;
    if (!target) return;
    const signal = this.ctx.signal();
    if (!(await sleep(webhook.lateMs, signal))) return;
    const body = JSON.stringify(event);
    const copies = webhook.duplicate ? 2 : 1;
    for (let copy = 1; copy <= copies; copy += 1) {
      await this.deliverCopy(target, event, body, copy, signal);
    }
  }

  private async deliverCopy(target: string, event: WebhookEvent, body: string, copy: number, signal: AbortSignal) {
    const { maxAttempts, retryBackoffMs } = this.ctx.config.webhook;
    for (let attempt = 1; attempt <= maxAttempts; attempt += 1) {
      if (signal.aborted) return;
      const timestamp = Math.floor(this.ctx.now() / 1000);
      const secret = this.ctx.credentials.webhookSecret;
      let status: number | null = null;
      let error: string | undefined;
      try {
        const response = await fetch(target, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'webhook-id': event.id,
            'webhook-timestamp': String(timestamp),
            'webhook-signature': standardSignature(secret, event.id, timestamp, body),
            'x-turbodocx-signature': turbodocxSignature(secret, body),
          },
          body,
          signal: AbortSignal.any([signal, AbortSignal.timeout(attemptTimeoutMs)]),
        });
        status = response.status;
        await response.arrayBuffer().catch(() => undefined);
      } catch (err) {
        error = err instanceof Error ? err.message : 'delivery failed';
      }
      const delivered = status !== null && status >= 200 && status < 300;
      this.ctx.stats.webhookAttempt(delivered);
      this.deliveries.push({
        eventId: event.id,
        type: event.type,
        copy,
        attempt,
        at: new Date(this.ctx.now()).toISOString(),
        status,
        ...(error !== undefined ? { error } : {}),
        delivered,
      });
      if (delivered) return;
      if (attempt < maxAttempts && !(await sleep(retryBackoffMs * 2 ** (attempt - 1), signal))) return;
    }
  }
}
