import { z } from 'zod';
import type { Provider, SandboxContext } from './context';
import { errorReply, header, json, parseBody, randomId, safeEqual, type Reply, type SandboxRequest } from './http';
import { idempotencyKey } from './idempotency';
import { rateLimitHeaders, SlidingWindowLimiter } from './rate-limit';

/** SendGrid-like: bearer API key, hard request rate limit, batch send. */

const messageSchema = z.object({
  to: z.email(),
  subject: z.string().min(1).max(998),
  body: z.string().max(1_000_000),
});

const batchSchema = z.object({ messages: z.array(messageSchema).min(1).max(100) });

type Message = z.output<typeof messageSchema>;

export function emailProvider(ctx: SandboxContext): Provider {
  const limiter = new SlidingWindowLimiter(ctx.now, () => ctx.config.emailRateLimit);

  function authenticate(req: SandboxRequest): Reply | null {
    const match = /^Bearer\s+(\S+)$/i.exec(header(req, 'authorization') ?? '');
    const key = match?.[1];
    return key !== undefined && safeEqual(key, ctx.credentials.emailApiKey)
      ? null
      : errorReply(401, 'unauthorized', {}, { 'www-authenticate': 'Bearer' });
  }

  function record(message: Message, key: string | null): string {
    const messageId = randomId('msg');
    ctx.ledger.record({
      provider: 'email',
      effect: 'email.sent',
      idempotencyKey: key,
      resourceId: messageId,
      request: { to: message.to, subject: message.subject },
    });
    return messageId;
  }

  /** Auth, then the rate limit (every authenticated request counts), then idempotent apply. */
  function guarded(req: SandboxRequest, apply: (key: string | null, headers: Record<string, string>) => Reply): Reply {
    const denied = authenticate(req);
    if (denied) return denied;
    const decision = limiter.take();
    const headers = rateLimitHeaders(decision);
    if (!decision.allowed) {
      ctx.stats.emailRateLimited();
      return errorReply(429, 'rate_limited', { retryAfter: decision.retryAfterSeconds }, headers);
    }
    const key = idempotencyKey(req, 'idempotency-key', { required: false, missingError: '' });
    if (!key.ok) return { ...key.reply, headers };
    const reply = apply(key.value, headers);
    return { ...reply, headers: { ...reply.headers, ...headers } };
  }

  function send(req: SandboxRequest): Reply {
    return guarded(req, (key) => {
      const body = parseBody(req, messageSchema);
      if (!body.ok) return body.reply;
      const message = body.value;
      return ctx.idempotency.run('email.send', key, message, () => json(202, { messageId: record(message, key) }));
    });
  }

  function batch(req: SandboxRequest): Reply {
    return guarded(req, (key) => {
      const body = parseBody(req, batchSchema);
      if (!body.ok) return body.reply;
      const { messages } = body.value;
      return ctx.idempotency.run('email.batch', key, messages, () =>
        json(202, { messageIds: messages.map((m) => record(m, key)) }),
      );
    });
  }

  return {
    name: 'email',
    routes: [
      { method: 'POST', pattern: '/email/send', handle: send },
      { method: 'POST', pattern: '/email/batch', handle: batch },
    ],
    reset() {
      limiter.clear();
    },
    clearRecords() {
      // Messages live only in the ledger.
    },
  };
}
