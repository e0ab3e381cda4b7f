import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { Provider, SandboxContext } from './context';
import { errorReply, header, json, parseBody, randomId, safeEqual, type Reply, type SandboxRequest } from './http';
import { idempotencyKey } from './idempotency';

/** Modeled on "API People": OAuth2 client credentials, `x-correlation-id` as the idempotency key. */

interface Payment {
  id: string;
  status: 'succeeded';
  amount: number;
  currency: string;
  orderId: string;
  customerRef?: string;
  correlationId: string;
  createdAt: string;
}

interface Refund {
  id: string;
  status: 'succeeded';
  paymentId: string;
  amount: number;
  currency: string;
  correlationId: string;
  createdAt: string;
}

const tokenRequestSchema = z.object({
  grant_type: z.string().optional(),
  client_id: z.string().optional(),
  client_secret: z.string().optional(),
});

const paymentSchema = z.object({
  amount: z.int().positive().max(1_000_000_000_000),
  currency: z
    .string()
    .regex(/^[A-Za-z]{3}$/, 'expected a 3-letter ISO 4217 code')
    .transform((c) => c.toUpperCase()),
  orderId: z.string().min(1).max(200),
  customerRef: z.string().min(1).max(200).optional(),
});

const refundSchema = z.object({
  paymentId: z.string().min(1).max(200),
  amount: z.int().positive().max(1_000_000_000_000),
});

const correlationHeader = 'x-correlation-id';

/** Token endpoint accepts form or JSON bodies, like most OAuth2 servers. */
function tokenBody(req: SandboxRequest): unknown {
  const text = req.rawBody.toString('utf8');
  if ((header(req, 'content-type') ?? '').includes('application/json')) {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return null;
    }
  }
  return Object.fromEntries(new URLSearchParams(text));
}

/** RFC 6749 §2.3.1: Basic credentials are form-urlencoded before base64. */
function basicCredentials(req: SandboxRequest): { id: string; secret: string } | null {
  const auth = header(req, 'authorization');
  if (!auth?.toLowerCase().startsWith('basic ')) return null;
  const decoded = Buffer.from(auth.slice(6).trim(), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return null;
  try {
    return { id: decodeURIComponent(decoded.slice(0, colon)), secret: decodeURIComponent(decoded.slice(colon + 1)) };
  } catch {
    return null;
  }
}

export function paymentsProvider(ctx: SandboxContext): Provider {
  const tokens = new Map<string, number>();
  const payments = new Map<string, Payment>();
  const paymentsByCorrelation = new Map<string, Payment>();
  const refunded = new Map<string, number>();

  function issueToken(req: SandboxRequest): Reply {
    const parsed = tokenRequestSchema.safeParse(tokenBody(req));
    if (!parsed.success) {
      ctx.stats.tokenRequested(false);
      return errorReply(400, 'invalid_request');
    }
    const body = parsed.data;
    const creds =
      basicCredentials(req) ??
      (body.client_id !== undefined ? { id: body.client_id, secret: body.client_secret ?? '' } : null);
    const good =
      creds !== null &&
      safeEqual(creds.id, ctx.credentials.paymentsClientId) &&
      safeEqual(creds.secret, ctx.credentials.paymentsClientSecret);
    if (!good) {
      ctx.stats.tokenRequested(false);
      return errorReply(401, 'invalid_client', {}, { 'www-authenticate': 'Basic realm="payments"' });
    }
    if (body.grant_type !== 'client_credentials') {
      ctx.stats.tokenRequested(false);
      return errorReply(400, body.grant_type === undefined ? 'invalid_request' : 'unsupported_grant_type');
    }
    const ttl = ctx.config.tokenTtlSeconds;
    const token = `at_${randomBytes(24).toString('base64url')}`;
    tokens.set(token, ctx.now() + ttl * 1000);
    ctx.stats.tokenRequested(true);
    return json(200, { access_token: token, token_type: 'Bearer', expires_in: ttl }, { 'cache-control': 'no-store' });
  }

  /** Returns an error reply unless the request carries a live bearer token. */
  function authenticate(req: SandboxRequest): Reply | null {
    const auth = header(req, 'authorization');
    const match = auth ? /^Bearer\s+(\S+)$/i.exec(auth) : null;
    const expiresAt = match?.[1] ? tokens.get(match[1]) : undefined;
    if (expiresAt === undefined || ctx.now() >= expiresAt) {
      return errorReply(401, 'invalid_token', {}, { 'www-authenticate': 'Bearer error="invalid_token"' });
    }
    return null;
  }

  function createPayment(req: SandboxRequest): Reply {
    const denied = authenticate(req);
    if (denied) return denied;
    const key = idempotencyKey(req, correlationHeader, { required: true, missingError: 'missing_correlation_id' });
    if (!key.ok) return key.reply;
    const correlationId = key.value ?? '';
    const body = parseBody(req, paymentSchema);
    if (!body.ok) return body.reply;
    const input = body.value;
    return ctx.idempotency.run('payments.create', correlationId, input, () => {
      const payment: Payment = {
        id: randomId('pay'),
        status: 'succeeded',
        amount: input.amount,
        currency: input.currency,
        orderId: input.orderId,
        ...(input.customerRef !== undefined ? { customerRef: input.customerRef } : {}),
        correlationId,
        createdAt: new Date(ctx.now()).toISOString(),
      };
      payments.set(payment.id, payment);
      paymentsByCorrelation.set(correlationId, payment);
      ctx.ledger.record({
        provider: 'payments',
        effect: 'payment.created',
        idempotencyKey: correlationId,
        resourceId: payment.id,
        request: { amount: input.amount, currency: input.currency, orderId: input.orderId },
      });
      return json(201, payment);
    });
  }

  function findPayment(req: SandboxRequest): Reply {
    const denied = authenticate(req);
    if (denied) return denied;
    const correlationId = req.query.get('correlationId');
    if (!correlationId) return errorReply(400, 'missing_correlation_id');
    const payment = paymentsByCorrelation.get(correlationId);
    return payment ? json(200, payment) : errorReply(404, 'not_found');
  }

  function createRefund(req: SandboxRequest): Reply {
    const denied = authenticate(req);
    if (denied) return denied;
    const key = idempotencyKey(req, correlationHeader, { required: true, missingError: 'missing_correlation_id' });
    if (!key.ok) return key.reply;
    const correlationId = key.value ?? '';
    const body = parseBody(req, refundSchema);
    if (!body.ok) return body.reply;
    const input = body.value;
    return ctx.idempotency.run('payments.refund', correlationId, input, () => {
      const payment = payments.get(input.paymentId);
      if (!payment) return errorReply(404, 'not_found');
      const already = refunded.get(payment.id) ?? 0;
      if (already + input.amount > payment.amount) {
        return errorReply(422, 'amount_exceeds_refundable', { refundable: payment.amount - already });
      }
      refunded.set(payment.id, already + input.amount);
      const refund: Refund = {
        id: randomId('re'),
        status: 'succeeded',
        paymentId: payment.id,
        amount: input.amount,
        currency: payment.currency,
        correlationId,
        createdAt: new Date(ctx.now()).toISOString(),
      };
      ctx.ledger.record({
        provider: 'payments',
        effect: 'refund.created',
        idempotencyKey: correlationId,
        resourceId: refund.id,
        request: { paymentId: payment.id, amount: input.amount },
      });
      return json(201, refund);
    });
  }

  function clearRecords(): void {
    payments.clear();
    paymentsByCorrelation.clear();
    refunded.clear();
  }

  return {
    name: 'payments',
    routes: [
      { method: 'POST', pattern: '/payments/oauth/token', handle: issueToken },
      {
        method: 'GET',
        pattern: '/payments/hello',
        handle: (req) => authenticate(req) ?? json(200, { ok: true, provider: 'payments' }),
      },
      { method: 'POST', pattern: '/payments/payments', handle: createPayment },
      { method: 'GET', pattern: '/payments/payments', handle: findPayment },
      { method: 'POST', pattern: '/payments/refunds', handle: createRefund },
    ],
    reset() {
      tokens.clear();
      clearRecords();
    },
    clearRecords,
  };
}
