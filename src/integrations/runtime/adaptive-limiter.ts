import type { Duration } from '@temporalio/common';
import { durationMs } from '../kit/duration';
import type { Logger } from '../../observability/logger';
import { parseRetryAfter } from './classify';

/**
 * Adaptive rate limiting, in the worker process, one token bucket per integration.
 *
 * The declared rate (`traffic.ratePerSecond`, set below the provider's documented limit) is the
 * ceiling. Temporal already caps how fast the queue dispatches activities (server-side, shared by all
 * workers); this limiter paces the calls each process actually sends and adapts to what the provider
 * says, with **AIMD** (additive increase, multiplicative decrease, as TCP's congestion control):
 *
 * - **Pacing**: a bucket of capacity 1 refilled at the current rate, so calls leave evenly spaced
 *   (no bursts: strict providers count in sliding windows). Waiters are served first come, first served.
 * - **Multiplicative decrease**: a rate-limit signal multiplies the rate by `decrease` (0.5). Signals are
 *   a call classified `RateLimited` (429, or 503 with Retry-After) and rate-limit headers saying the window
 *   is spent (`x-ratelimit-remaining: 0` / `ratelimit-remaining: 0`). Sending also pauses until the
 *   provider's `Retry-After` or `x-ratelimit-reset` (epoch seconds, or seconds from now when small).
 *   Signals within `holdMs` of a decrease belong to the same episode (calls already in flight) and do
 *   not cut again. The rate never drops below `minFraction` of the declared rate.
 * - **Additive increase**: each `recoveryIntervalMs` of clean traffic (answers without a signal, no pause)
 *   adds `increase` (10 %) of the declared rate, never above the declared rate and, for `ceilingMemoryMs`
 *   after the last signal, never above `ceilingFactor` (90 %) of the rate that drew it. Plain AIMD probes
 *   back up to the limit and gets rate-limited again every few seconds (a sawtooth); remembering where the
 *   limit was keeps it just below, and forgetting it after a minute still finds a raised provider limit.
 *
 * Callers: background calls wait for their token (up to `backgroundMaxWaitMs`, inside the attempt's
 * start-to-close); user-flow calls, including ones run as local activities, wait at most
 * `userFlowMaxWaitMs`. A call that would wait longer is refused with the estimated wait, which the
 * engine turns into a retryable `RateLimited` failure with `nextRetryDelay`, so nothing is sent.
 *
 * Per process: two worker processes each pace at the declared rate, which is why the Temporal queue
 * limit (global) is set too, and why the adaptive part exists (it reacts to the provider's global count).
 */
export interface AdaptiveLimiterOptions {
  /** Factor applied to the rate on a rate-limit signal. @default 0.5 */
  decrease?: number;
  /** Added per recovery interval, as a fraction of the declared rate. @default 0.1 */
  increase?: number;
  /** Clean traffic needed for one increase. @default 1 second */
  recoveryInterval?: Duration;
  /** Signals this soon after a decrease are the same episode and do not cut again. @default 1 second */
  hold?: Duration;
  /** Recovery stops at this fraction of the rate that drew the last signal... @default 0.9 */
  ceilingFactor?: number;
  /** ...for this long after that signal; then it may probe up to the declared rate again. @default 1 minute */
  ceilingMemory?: Duration;
  /** Floor of the rate, as a fraction of the declared rate. @default 0.05 */
  minFraction?: number;
  /** Longest pause a provider's reset/Retry-After may impose (a daily quota must not stall the bucket for hours in memory; calls keep failing RateLimited instead). @default 10 minutes */
  maxPause?: Duration;
  /** A user-flow call that would wait longer fails fast. @default 250 ms */
  userFlowMaxWait?: Duration;
  /** A background call that would wait longer is retried later by Temporal. @default 10 seconds */
  backgroundMaxWait?: Duration;
  /** Whether `x-ratelimit-remaining` / `x-ratelimit-reset` are signals. @default true */
  rateLimitHeaders?: boolean;
  /** Rate changes are logged here (info on a decrease, debug on recovery). */
  logger?: Logger;
  /** Clock, ms. @default Date.now (timers are the global setTimeout, so jest's fake timers drive both) */
  now?: () => number;
}

/** What `acquire` decided: go now (after `waitedMs`), or not before `retryAfterMs`. */
export type Admission = { admitted: true; waitedMs: number } | { admitted: false; retryAfterMs: number };

/** What a call's answer told the limiter. */
export interface CallSignal {
  /** The call was classified `RateLimited` (429, or 503 with Retry-After). */
  rateLimited: boolean;
  headers?: Record<string, string | string[] | undefined>;
}

export interface LimiterState {
  declared: number;
  /** Current rate, calls per second. */
  rate: number;
  /** Recovery's current upper bound. */
  ceiling: number;
  /** Epoch ms until which nothing is sent (0: no pause). */
  pausedUntil: number;
  waiting: number;
  decreases: number;
  increases: number;
}

interface Waiter {
  enqueuedAt: number;
  grant: () => void;
}

interface Bucket extends LimiterState {
  tokens: number;
  refilledAt: number;
  lastDecreaseAt: number;
  lastSignalAt: number;
  /** Start of the current stretch of clean traffic. */
  cleanSince: number;
  queue: Waiter[];
  timer?: ReturnType<typeof setTimeout>;
}

export class AdaptiveLimiter {
  private readonly buckets = new Map<string, Bucket>();
  /** The options resolved, durations in ms. */
  private readonly o: {
    decrease: number;
    increase: number;
    recoveryIntervalMs: number;
    holdMs: number;
    ceilingFactor: number;
    ceilingMemoryMs: number;
    minFraction: number;
    maxPauseMs: number;
    userFlowMaxWaitMs: number;
    backgroundMaxWaitMs: number;
    rateLimitHeaders: boolean;
  };
  private readonly now: () => number;

  constructor(private readonly options: AdaptiveLimiterOptions = {}) {
    this.o = {
      decrease: options.decrease ?? 0.5,
      increase: options.increase ?? 0.1,
      recoveryIntervalMs: durationMs(options.recoveryInterval ?? '1 second'),
      holdMs: durationMs(options.hold ?? '1 second'),
      ceilingFactor: options.ceilingFactor ?? 0.9,
      ceilingMemoryMs: durationMs(options.ceilingMemory ?? '1 minute'),
      minFraction: options.minFraction ?? 0.05,
      maxPauseMs: durationMs(options.maxPause ?? '10 minutes'),
      userFlowMaxWaitMs: durationMs(options.userFlowMaxWait ?? '250 ms'),
      backgroundMaxWaitMs: durationMs(options.backgroundMaxWait ?? '10 seconds'),
      rateLimitHeaders: options.rateLimitHeaders ?? true,
    };
    this.now = options.now ?? (() => Date.now());
  }

  /** The longest wait allowed for a call of this profile. */
  maxWaitMs(profile: 'userFlow' | 'background'): number {
    return profile === 'userFlow' ? this.o.userFlowMaxWaitMs : this.o.backgroundMaxWaitMs;
  }

  /**
   * Takes a token for `key` (an integration) declared at `declaredRate` calls per second. Resolves when it
   * may send, or at once with `admitted: false` when the estimated wait exceeds `maxWaitMs`. Rejects with
   * the signal's reason when `signal` aborts while waiting (the activity was cancelled).
   */
  acquire(key: string, declaredRate: number, opts: { maxWaitMs: number; signal?: AbortSignal }): Promise<Admission> {
    const b = this.bucket(key, declaredRate);
    const now = this.now();
    this.refill(b, now);
    if (b.queue.length === 0 && now >= b.pausedUntil && b.tokens >= 1) {
      b.tokens -= 1;
      return Promise.resolve({ admitted: true, waitedMs: 0 });
    }
    // Those queued go first: this one waits for its own token after theirs.
    const untilFirst = Math.max(b.pausedUntil - now, ((1 - Math.min(1, b.tokens)) / b.rate) * 1000, 0);
    const estimate = Math.ceil(untilFirst + (b.queue.length / b.rate) * 1000);
    if (estimate > opts.maxWaitMs) return Promise.resolve({ admitted: false, retryAfterMs: Math.max(1, estimate) });
    if (opts.signal?.aborted) return Promise.reject(opts.signal.reason as Error);
    return new Promise<Admission>((resolve, reject) => {
      const onAbort = () => {
        b.queue = b.queue.filter((w) => w !== waiter);
        this.schedule(b);
        reject(opts.signal?.reason as Error);
      };
      const waiter: Waiter = {
        enqueuedAt: now,
        grant: () => {
          opts.signal?.removeEventListener('abort', onAbort);
          resolve({ admitted: true, waitedMs: this.now() - waiter.enqueuedAt });
        },
      };
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      b.queue.push(waiter);
      this.schedule(b);
    });
  }

  /** Feeds the outcome of a call that reached the provider: a rate-limit signal, or clean traffic. */
  observe(key: string, declaredRate: number, signal: CallSignal): void {
    const b = this.bucket(key, declaredRate);
    const now = this.now();
    this.refill(b, now);
    const retryAfter = parseRetryAfter(header(signal.headers, 'retry-after'), now);
    const windowSpent = this.o.rateLimitHeaders && windowSpentUntil(signal.headers, now);
    if (signal.rateLimited || windowSpent) {
      const pauseUntil = signal.rateLimited && retryAfter !== undefined ? now + retryAfter : windowSpent || now;
      b.pausedUntil = Math.max(b.pausedUntil, Math.min(pauseUntil, now + this.o.maxPauseMs));
      // The first call after a pause opens the provider's new window: it goes at once, the next waits.
      if (b.pausedUntil > now) b.tokens = 1;
      b.lastSignalAt = now;
      b.cleanSince = Math.max(now, b.pausedUntil);
      if (now - b.lastDecreaseAt >= this.o.holdMs) {
        const before = b.rate;
        b.ceiling = Math.max(this.floor(b), before * this.o.ceilingFactor);
        b.rate = Math.max(this.floor(b), before * this.o.decrease);
        b.lastDecreaseAt = now;
        b.decreases += 1;
        this.options.logger?.info(
          {
            integration: key,
            rateBefore: round(before),
            rate: round(b.rate),
            ceiling: round(b.ceiling),
            pausedForMs: Math.max(0, b.pausedUntil - now),
            cause: signal.rateLimited ? 'RateLimited' : 'x-ratelimit-remaining: 0',
          },
          'integration rate lowered',
        );
      }
    } else {
      if (now - b.lastSignalAt >= this.o.ceilingMemoryMs) b.ceiling = b.declared;
      if (now >= b.pausedUntil && now - b.cleanSince >= this.o.recoveryIntervalMs && b.rate < b.ceiling) {
        const before = b.rate;
        b.rate = Math.min(b.ceiling, b.rate + this.o.increase * b.declared);
        b.cleanSince = now;
        b.increases += 1;
        this.options.logger?.debug(
          { integration: key, rateBefore: round(before), rate: round(b.rate) },
          'integration rate raised',
        );
      }
    }
    this.schedule(b);
  }

  /** A snapshot of one integration's bucket (undefined before its first call). */
  state(key: string): LimiterState | undefined {
    const b = this.buckets.get(key);
    if (!b) return undefined;
    const { declared, rate, ceiling, pausedUntil, decreases, increases } = b;
    return { declared, rate, ceiling, pausedUntil, waiting: b.queue.length, decreases, increases };
  }

  private floor(b: Bucket): number {
    return b.declared * this.o.minFraction;
  }

  private bucket(key: string, declaredRate: number): Bucket {
    let b = this.buckets.get(key);
    if (!b || b.declared !== declaredRate) {
      if (!(declaredRate > 0)) throw new RangeError(`${key}: traffic.ratePerSecond must be > 0, got ${declaredRate}`);
      const now = this.now();
      // A new declaration (a deploy changed it) starts afresh; waiters of the old one carry over.
      if (b?.timer) clearTimeout(b.timer);
      b = {
        declared: declaredRate,
        rate: declaredRate,
        ceiling: declaredRate,
        pausedUntil: b?.pausedUntil ?? 0,
        waiting: 0,
        decreases: 0,
        increases: 0,
        tokens: 1,
        refilledAt: now,
        lastDecreaseAt: -Infinity,
        lastSignalAt: -Infinity,
        cleanSince: now,
        queue: b?.queue ?? [],
      };
      this.buckets.set(key, b);
    }
    return b;
  }

  private refill(b: Bucket, now: number): void {
    // Nothing accrues during a pause (the bucket holds the one token it was given when the pause began).
    const from = Math.max(b.refilledAt, Math.min(now, b.pausedUntil));
    if (now > from) b.tokens = Math.min(1, b.tokens + ((now - from) / 1000) * b.rate);
    b.refilledAt = now;
  }

  /** Grants what can go now, and sets one timer for the next waiter. */
  private schedule(b: Bucket): void {
    if (b.timer) clearTimeout(b.timer);
    b.timer = undefined;
    const now = this.now();
    this.refill(b, now);
    while (b.queue.length > 0 && now >= b.pausedUntil && b.tokens >= 1) {
      b.tokens -= 1;
      b.queue.shift()!.grant();
    }
    if (b.queue.length === 0) return;
    const at = Math.max(b.pausedUntil, now + ((1 - b.tokens) / b.rate) * 1000);
    b.timer = setTimeout(() => this.schedule(b), Math.max(1, Math.ceil(at - now)));
    b.timer.unref?.();
  }
}

function header(headers: CallSignal['headers'], name: string): string | undefined {
  const v = headers?.[name];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * When the headers say the window is spent (remaining 0), the epoch ms at which it resets (`now` when
 * no reset is given); `false` otherwise. `x-ratelimit-reset` is epoch seconds (GitHub, this sandbox) or,
 * when smaller than a year of seconds, seconds from now (the IETF `RateLimit-Reset` draft).
 */
function windowSpentUntil(headers: CallSignal['headers'], now: number): number | false {
  const remaining = header(headers, 'x-ratelimit-remaining') ?? header(headers, 'ratelimit-remaining');
  if (remaining === undefined || Number(remaining.trim()) !== 0 || remaining.trim() === '') return false;
  const reset = Number(header(headers, 'x-ratelimit-reset') ?? header(headers, 'ratelimit-reset'));
  if (!Number.isFinite(reset) || reset < 0) return now;
  return reset > 365 * 24 * 3600 ? Math.max(now, reset * 1000) : now + reset * 1000;
}

const round = (n: number) => Math.round(n * 100) / 100;
