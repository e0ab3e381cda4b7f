import type { CallMetrics } from '../../../observability/call-metrics';
import type { Logger } from '../../../observability/logger';
import { durationMs } from '../../kit/duration';
import { semanticsOf } from '../../kit/failures';
import type { Verdict } from '../classify';
import { fallbackKey, type FallbackCache } from '../fallback-cache';
import type { Call, Policy } from './call';

/**
 * Declared fallbacks of user-flow reads (`EndpointSpec.fallback`), and the count of degraded answers:
 * - a fresh cached answer is served without calling the provider;
 * - a stale one (inside `stale`) is served at once while one background refresh runs
 *   (stale-while-revalidate); while that refresh fails, it keeps being served until `stale` runs out
 *   (stale-if-error);
 * - otherwise the provider is called, and when it is unavailable (the failure table's `fallback`: down,
 *   slow, rate-limited, breaker open, kill switch) the declared default answers.
 * Any other failure (a rejected request, an invalid response) goes back as it is. A caller that will
 * write based on the answer asks for the provider's current one (`fresh: true`).
 */
export class Fallbacks {
  /** Background refreshes of stale answers, by cache key: at most one in flight per key. */
  private readonly refreshing = new Map<string, Promise<void>>();
  /** Degraded answers served (stale or default), by `<integration>.<endpoint> <reason>`. */
  private readonly degraded = new Map<string, number>();

  constructor(
    private readonly options: { cache?: FallbackCache; logger: Logger; now: () => number; metrics?: CallMetrics },
  ) {}

  readonly policy: Policy = async (call, next) => {
    const fallback = call.spec.fallback;
    const cache = this.options.cache;
    if (!fallback || !cache || call.input.fresh) return next(call);
    const window = fallback.cache && {
      freshMs: durationMs(fallback.cache.fresh),
      keptMs: durationMs(fallback.cache.fresh) + durationMs(fallback.cache.stale),
    };
    const key = window ? fallbackKey(call.integration, call.endpoint, call.input) : undefined;
    const cached = key ? await cache.get(key).catch(() => undefined) : undefined;
    if (window && key && cached) {
      const age = this.options.now() - cached.storedAt;
      if (age < window.freshMs) return { ok: true, value: cached.value }; // fresh: no request leaves
      if (age < window.keptMs) {
        this.revalidate(call, next, key, window.keptMs, cache);
        this.count(call, 'stale-while-revalidate', age);
        return { ok: true, value: cached.value };
      }
    }
    const verdict = await next(call);
    if (verdict.ok) {
      // An incomplete answer (GraphQL partial data) is served once, never kept for later callers.
      if (window && key && !verdict.degraded) await cache.set(key, verdict.value, window.keptMs).catch(() => undefined);
      return verdict;
    }
    if (!semanticsOf(verdict.type).fallback || !('default' in fallback)) return verdict;
    this.count(call, verdict.type, undefined);
    return { ok: true, value: fallback.default };
  };

  /** Degraded answers served so far (stale or default), in total or for one integration. */
  total(integration?: string): number {
    let total = 0;
    for (const [counter, n] of this.degraded) if (!integration || counter.startsWith(`${integration}.`)) total += n;
    return total;
  }

  /** Counts and logs (once per answer, at warn) a degraded answer, so affected flows can be reviewed. */
  private count(call: Call, reason: string, ageMs: number | undefined): void {
    const counter = `${call.integration.name}.${call.endpoint} ${reason}`;
    this.degraded.set(counter, (this.degraded.get(counter) ?? 0) + 1);
    this.options.metrics?.degradedAnswer({ integration: call.integration.name, endpoint: call.endpoint, reason });
    this.options.logger.warn(
      {
        integration: call.integration.name,
        endpoint: call.endpoint,
        workflowId: call.ctx.workflowId,
        activityId: call.ctx.activityId,
        reason,
        answer: ageMs === undefined ? 'default' : 'stale',
        ageMs,
      },
      'degraded answer served (fallback)',
    );
  }

  /** Degraded answers served so far, by `<integration>.<endpoint> <reason>`. */
  answers(): Record<string, number> {
    return Object.fromEntries(this.degraded);
  }

  /** Resolves when every background refresh in flight has finished (tests; shutdown). */
  async settled(): Promise<void> {
    while (this.refreshing.size > 0) await Promise.all(this.refreshing.values());
  }

  /** Refreshes a stale answer in the background, once per key at a time; a failure keeps the stale one. */
  private revalidate(
    call: Call,
    next: (call: Call) => Promise<Verdict>,
    key: string,
    ttlMs: number,
    cache: FallbackCache,
  ): void {
    if (this.refreshing.has(key)) return;
    // No cancellation signal: the refresh outlives the activity that served the stale answer.
    const background: Call = { ...call, probe: false, ctx: { ...call.ctx, attempt: 1, signal: undefined } };
    const refresh = next(background)
      .then(async (verdict) => {
        if (verdict.ok) return cache.set(key, verdict.value, ttlMs);
        // Already logged by the call itself; this says what it means for the callers.
        this.options.logger.warn(
          { integration: call.integration.name, endpoint: call.endpoint, outcome: verdict.type },
          'fallback refresh failed; the stale answer is served until it expires',
        );
      })
      .catch(() => undefined)
      .finally(() => this.refreshing.delete(key));
    this.refreshing.set(key, refresh);
  }
}
