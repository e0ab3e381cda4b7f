import type { CallMetrics } from '../../../observability/call-metrics';
import type { Logger } from '../../../observability/logger';
import { durationMs } from '../../kit/duration';
import { FailureType } from '../../kit/failures';
import type { AdaptiveLimiter } from '../adaptive-limiter';
import { heldBack, type Policy } from './call';

/**
 * Traffic shaping (see adaptive-limiter.ts), before anything is sent: waits for the integration's token.
 * A call that would wait longer than its profile allows (user flows: a fraction of a second) sends
 * nothing and fails `RateLimited`, retryable, with the estimated wait as `nextRetryDelay`.
 */
export function pace(limiter: AdaptiveLimiter | undefined, logger: Logger, metrics: CallMetrics): Policy {
  return async (call, next) => {
    const traffic = call.integration.traffic;
    const rate = traffic?.ratePerSecond;
    if (!limiter || rate === undefined) return next(call);
    const window = traffic?.window ? { limit: traffic.window.limit, perMs: durationMs(traffic.window.per) } : undefined;
    const admission = await limiter.acquire(call.integration.name, rate, {
      maxWaitMs: limiter.maxWaitMs(call.profile.name),
      signal: call.ctx.signal, // a cancelled activity stops waiting
      window,
    });
    metrics.limiterAdmission({
      integration: call.integration.name,
      admitted: admission.admitted,
      waitedMs: admission.admitted ? admission.waitedMs : 0,
    });
    if (admission.admitted) {
      if (!window) return next(call);
      try {
        return await next(call);
      } finally {
        // The slot frees one window after the answer; at once when nothing was sent (a closed gate).
        limiter.settle(call.integration.name, call.request !== undefined);
      }
    }
    // Background work must not come back in lockstep.
    const delay = Math.round(admission.retryAfterMs * (call.profile.jitter ? 1 + Math.random() * 0.2 : 1));
    return heldBack(logger, call, {
      type: FailureType.RateLimited,
      message: `${call.integration.name}.${call.endpoint}: over its rate limit in this worker; no request sent: retry in ${delay} ms`,
      retryable: true,
      retryInMs: delay,
    });
  };
}
