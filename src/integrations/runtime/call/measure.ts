import type { CallMetrics } from '../../../observability/call-metrics';
import type { Outcome } from '../classify';
import type { Policy } from './call';

/**
 * Metrics of every call that comes back through the call path (src/observability/call-metrics.ts): its
 * outcome (`ok` or the failure type, held-back calls included), the provider's HTTP status when it answered,
 * whether a request left, how long the
 * attempt took past the gate, its declared price and the provider's rate-limit headers. Right after the
 * fallback, so a call answered from the cache is not a call, and a degraded answer is counted as the
 * failure it replaced (the fallback counts the degraded answer itself). A provider's own incomplete answer
 * (GraphQL partial data, accepted) is an `ok` call and a degraded answer.
 */
export function measure(metrics: CallMetrics): Policy {
  return async (call, next) => {
    const verdict = await next(call);
    const outcome = call.outcome;
    if (verdict.ok && verdict.degraded)
      metrics.degradedAnswer({ integration: call.integration.name, endpoint: call.endpoint, reason: verdict.degraded });
    metrics.callFinished({
      integration: call.integration.name,
      endpoint: call.endpoint,
      outcome: verdict.ok ? 'ok' : verdict.type,
      attempt: call.ctx.attempt,
      sent: wasSent(outcome),
      status: outcome?.kind === 'response' ? outcome.status : undefined,
      attemptMs: call.attemptMs,
      pricePerCall: call.spec.pricePerCall,
      rateLimit: outcome?.kind === 'response' ? rateLimitOf(outcome.headers) : undefined,
    });
    return verdict;
  };
}

function wasSent(outcome: Outcome | undefined): boolean {
  if (!outcome) return false;
  return outcome.kind === 'response' || outcome.sent;
}

/** `x-ratelimit-remaining` / `x-ratelimit-limit`, when the provider sends them as plain numbers. */
function rateLimitOf(headers: Record<string, string | string[] | undefined>): { remaining?: number; limit?: number } {
  const number = (name: string) => {
    const raw = headers[name];
    const value = Number(Array.isArray(raw) ? raw[0] : raw);
    return raw === undefined || !Number.isFinite(value) ? undefined : value;
  };
  return { remaining: number('x-ratelimit-remaining'), limit: number('x-ratelimit-limit') };
}
