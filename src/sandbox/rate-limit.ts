/** Sliding-window log: exact Retry-After, no burst at window edges (what a strict provider enforces). */
export interface RateDecision {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Epoch ms at which the oldest counted request leaves the window. */
  resetAt: number;
  retryAfterSeconds: number;
}

export class SlidingWindowLimiter {
  private hits: number[] = [];

  constructor(
    private readonly now: () => number,
    private readonly settings: () => { limit: number; windowMs: number },
  ) {}

  take(): RateDecision {
    const { limit, windowMs } = this.settings();
    const now = this.now();
    this.hits = this.hits.filter((t) => t > now - windowMs);
    const allowed = this.hits.length < limit;
    if (allowed) this.hits.push(now);
    const oldest = this.hits[0] ?? now;
    const resetAt = oldest + windowMs;
    return {
      allowed,
      limit,
      remaining: Math.max(0, limit - this.hits.length),
      resetAt,
      retryAfterSeconds: allowed ? 0 : Math.max(1, Math.ceil((resetAt - now) / 1000)),
    };
  }

  clear(): void {
    this.hits = [];
  }
}

export function rateLimitHeaders(decision: RateDecision): Record<string, string> {
  return {
    'x-ratelimit-limit': String(decision.limit),
    'x-ratelimit-remaining': String(decision.remaining),
    'x-ratelimit-reset': String(Math.ceil(decision.resetAt / 1000)),
    ...(decision.allowed ? {} : { 'retry-after': String(decision.retryAfterSeconds) }),
  };
}
