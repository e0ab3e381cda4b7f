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
 * **Provider window** (`traffic.window`, the provider's published limit, e.g. 20 requests per 2 s): pacing
 * evenly at a rate below the limit wastes what the provider allows (a capacity-1 bucket behind Temporal's
 * own queue pacing, at the same rate, lost a token at each late arrival: 0.76-0.79 of the allowed rate in
 * bench/email-rate.ts). With a window the process mirrors the provider's sliding window instead: at most
 * `limit` calls in flight or answered within the last `per`, a slot freed `per` after the call's *answer*
 * (the provider counted the request before it answered, so its window has always moved on by then,
 * whatever the latency), and the token bucket's capacity becomes `limit` (bursts the provider allows are
 * used). A spent-window header (`remaining: 0`) is then a signal only when this process's own count is
 * under the limit (someone else uses the quota); reaching the limit itself is expected.
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

/** The provider's published sliding window: at most `limit` requests in any `perMs`. */
export interface ProviderWindow {
  limit: number;
  perMs: number;
}

/** What `acquire` decided: go now (after `waitedMs`), or not before `retryAfterMs`. */
export type Admission = { admitted: true; waitedMs: number } | { admitted: false; retryAfterMs: number };

/** What a call's answer told the limiter. */
export interface CallSignal {
  /** The call was classified `RateLimited` (429, or 503 with Retry-After). */
  rateLimited: boolean;
  headers?: Record<string, string | string[] | undefined>;
  /**
   * How long the attempt took, ms (the request left at most this long ago). Under a window, the provider
   * counted the request at its arrival, anywhere in that time: this process's own calls are then counted
   * over the window before the request left, not the one before the answer. @default 0
   */
  latencyMs?: number;
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
  window?: ProviderWindow;
  /** Window mode: calls admitted and not settled yet (each holds a slot). */
  inFlight: number;
  /** Window mode: when each settled call that reached the provider was answered, oldest first. */
  answeredAt: number[];
  /** Window mode: answers that left the window within one window before it (observe() looks back). */
  expiredAt: number[];
}

export class AdaptiveLimiter {
  private readonly buckets = new Map<string, Bucket>();
  /** The options resolved, durations in ms. */
  private readonly settings: {
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
    this.settings = {
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
    return profile === 'userFlow' ? this.settings.userFlowMaxWaitMs : this.settings.backgroundMaxWaitMs;
  }

  /**
   * Takes a token for `key` (an integration) declared at `declaredRate` calls per second. Resolves when it
   * may send, or at once with `admitted: false` when the estimated wait exceeds `maxWaitMs`. Rejects with
   * the signal's reason when `signal` aborts while waiting (the activity was cancelled). With `window`,
   * every admitted call holds a window slot until {@link settle} is called for it.
   */
  acquire(
    key: string,
    declaredRate: number,
    opts: { maxWaitMs: number; signal?: AbortSignal; window?: ProviderWindow },
  ): Promise<Admission> {
    const bucket = this.bucket(key, declaredRate, opts.window ?? null);
    const now = this.now();
    this.refill(bucket, now);
    if (bucket.queue.length === 0 && this.mayGrant(bucket, now)) {
      this.grantOne(bucket);
      return Promise.resolve({ admitted: true, waitedMs: 0 });
    }
    // Those queued go first: this one waits for its own token after theirs.
    const untilFirst = Math.max(
      bucket.pausedUntil - now,
      ((1 - Math.min(1, bucket.tokens)) / bucket.rate) * 1000,
      this.windowWaitMs(bucket, now),
      0,
    );
    // Tokens beyond the first (a window's burst) serve those queued without waiting.
    const extra = Math.max(0, bucket.tokens - 1);
    const estimate = Math.ceil(untilFirst + (Math.max(0, bucket.queue.length - extra) / bucket.rate) * 1000);
    if (estimate > opts.maxWaitMs) return Promise.resolve({ admitted: false, retryAfterMs: Math.max(1, estimate) });
    if (opts.signal?.aborted) return Promise.reject(opts.signal.reason as Error);
    return new Promise<Admission>((resolve, reject) => {
      const onAbort = () => {
        bucket.queue = bucket.queue.filter((w) => w !== waiter);
        this.schedule(bucket);
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
      bucket.queue.push(waiter);
      this.schedule(bucket);
    });
  }

  /**
   * A call admitted under a window settled: `answered` when it reached the provider (its slot is freed
   * one window after now), else (nothing sent) at once. No-op without a window.
   */
  settle(key: string, answered: boolean): void {
    const bucket = this.buckets.get(key);
    if (!bucket?.window) return;
    bucket.inFlight = Math.max(0, bucket.inFlight - 1);
    if (answered) bucket.answeredAt.push(this.now());
    this.schedule(bucket);
  }

  /** Feeds the outcome of a call that reached the provider: a rate-limit signal, or clean traffic. */
  observe(key: string, declaredRate: number, signal: CallSignal): void {
    const bucket = this.bucket(key, declaredRate);
    const now = this.now();
    this.refill(bucket, now);
    const retryAfter = parseRetryAfter(header(signal.headers, 'retry-after'), now);
    // Under a mirrored window, the provider's window being spent by this process's own calls is expected:
    // counted over the window the provider applied to this request (it left up to `latencyMs` ago), so a
    // slow answer does not take the process's own earlier calls, gone from its window since, for another
    // client's (a false signal halved the rate and capped it at 90 % for a minute in bench/email-rate.ts).
    const ownWindowFull =
      bucket.window !== undefined && this.ownCount(bucket, now, signal.latencyMs ?? 0) >= bucket.window.limit;
    const windowSpent = this.settings.rateLimitHeaders && !ownWindowFull && windowSpentUntil(signal.headers, now);
    if (signal.rateLimited || windowSpent) {
      const pauseUntil = signal.rateLimited && retryAfter !== undefined ? now + retryAfter : windowSpent || now;
      bucket.pausedUntil = Math.max(bucket.pausedUntil, Math.min(pauseUntil, now + this.settings.maxPauseMs));
      // The first call after a pause opens the provider's new window: it goes at once, the next waits.
      if (bucket.pausedUntil > now) bucket.tokens = 1;
      bucket.lastSignalAt = now;
      bucket.cleanSince = Math.max(now, bucket.pausedUntil);
      if (now - bucket.lastDecreaseAt >= this.settings.holdMs) {
        const before = bucket.rate;
        bucket.ceiling = Math.max(this.floor(bucket), before * this.settings.ceilingFactor);
        bucket.rate = Math.max(this.floor(bucket), before * this.settings.decrease);
        bucket.lastDecreaseAt = now;
        bucket.decreases += 1;
        this.options.logger?.info(
          {
            integration: key,
            rateBefore: round(before),
            rate: round(bucket.rate),
            ceiling: round(bucket.ceiling),
            pausedForMs: Math.max(0, bucket.pausedUntil - now),
            cause: signal.rateLimited ? 'RateLimited' : 'x-ratelimit-remaining: 0',
          },
          'integration rate lowered',
        );
      }
    } else {
      if (now - bucket.lastSignalAt >= this.settings.ceilingMemoryMs) bucket.ceiling = bucket.declared;
      if (
        now >= bucket.pausedUntil &&
        now - bucket.cleanSince >= this.settings.recoveryIntervalMs &&
        bucket.rate < bucket.ceiling
      ) {
        const before = bucket.rate;
        bucket.rate = Math.min(bucket.ceiling, bucket.rate + this.settings.increase * bucket.declared);
        bucket.cleanSince = now;
        bucket.increases += 1;
        this.options.logger?.debug(
          { integration: key, rateBefore: round(before), rate: round(bucket.rate) },
          'integration rate raised',
        );
      }
    }
    this.schedule(bucket);
  }

  /** A snapshot of one integration's bucket (undefined before its first call). */
  state(key: string): LimiterState | undefined {
    const bucket = this.buckets.get(key);
    if (!bucket) return undefined;
    const { declared, rate, ceiling, pausedUntil, decreases, increases } = bucket;
    return { declared, rate, ceiling, pausedUntil, waiting: bucket.queue.length, decreases, increases };
  }

  private floor(bucket: Bucket): number {
    return bucket.declared * this.settings.minFraction;
  }

  /** Window mode: slots taken (in flight, or answered within the last window). */
  private used(bucket: Bucket, now: number): number {
    const w = bucket.window;
    if (!w) return 0;
    while (bucket.answeredAt.length > 0 && bucket.answeredAt[0]! <= now - w.perMs)
      bucket.expiredAt.push(bucket.answeredAt.shift()!);
    while (bucket.expiredAt.length > 0 && bucket.expiredAt[0]! <= now - 2 * w.perMs) bucket.expiredAt.shift();
    return bucket.inFlight + bucket.answeredAt.length;
  }

  /**
   * Window mode: this process's calls the provider may have counted for a request that left up to
   * `latencyMs` ago (in flight, or answered since one window before it left; looking back one window at most).
   */
  private ownCount(bucket: Bucket, now: number, latencyMs: number): number {
    const w = bucket.window;
    if (!w) return 0;
    const used = this.used(bucket, now);
    const since = now - w.perMs - Math.min(Math.max(0, latencyMs), w.perMs);
    return used + bucket.expiredAt.filter((t) => t > since).length;
  }

  /** Window mode: how long until the slot of the last waiter (or of a new call) frees, as far as known. */
  private windowWaitMs(bucket: Bucket, now: number): number {
    const w = bucket.window;
    if (!w) return 0;
    const over = this.used(bucket, now) + bucket.queue.length - w.limit;
    if (over < 0) return 0;
    // The over-th answered call frees the slot; in-flight ones free theirs a window after they settle.
    const at = bucket.answeredAt[over];
    return at !== undefined ? at + w.perMs - now : w.perMs;
  }

  private mayGrant(bucket: Bucket, now: number): boolean {
    return (
      now >= bucket.pausedUntil &&
      bucket.tokens >= 1 &&
      (!bucket.window || this.used(bucket, now) < bucket.window.limit)
    );
  }

  private grantOne(bucket: Bucket): void {
    bucket.tokens -= 1;
    if (bucket.window) bucket.inFlight += 1;
  }

  /** The bucket's capacity: one token (even pacing), or the window's limit scaled by the current rate. */
  private capacity(bucket: Bucket): number {
    return bucket.window ? Math.max(1, Math.floor((bucket.window.limit * bucket.rate) / bucket.declared)) : 1;
  }

  /** `window`: the declaration's (null: none); undefined keeps the bucket's (observe() does not know it). */
  private bucket(key: string, declaredRate: number, window?: ProviderWindow | null): Bucket {
    if (window && !(Number.isInteger(window.limit) && window.limit >= 1 && window.perMs > 0)) {
      throw new RangeError(`${key}: traffic.window needs a whole limit >= 1 and a per > 0`);
    }
    let bucket = this.buckets.get(key);
    if (bucket && window !== undefined && !sameWindow(bucket.window, window ?? undefined)) {
      bucket.window = window ?? undefined;
    }
    if (!bucket || bucket.declared !== declaredRate) {
      const nextWindow = window === undefined ? bucket?.window : (window ?? undefined);
      if (!(declaredRate > 0)) throw new RangeError(`${key}: traffic.ratePerSecond must be > 0, got ${declaredRate}`);
      const now = this.now();
      // A new declaration (a deploy changed it) starts afresh; waiters of the old one carry over.
      if (bucket?.timer) clearTimeout(bucket.timer);
      bucket = {
        declared: declaredRate,
        rate: declaredRate,
        ceiling: declaredRate,
        pausedUntil: bucket?.pausedUntil ?? 0,
        waiting: 0,
        decreases: 0,
        increases: 0,
        // A window's burst is there from the start (the provider's window is empty too, as far as we know).
        tokens: nextWindow ? nextWindow.limit : 1,
        refilledAt: now,
        lastDecreaseAt: -Infinity,
        lastSignalAt: -Infinity,
        cleanSince: now,
        queue: bucket?.queue ?? [],
        window: nextWindow,
        inFlight: bucket?.inFlight ?? 0,
        answeredAt: bucket?.answeredAt ?? [],
        expiredAt: bucket?.expiredAt ?? [],
      };
      this.buckets.set(key, bucket);
    }
    return bucket;
  }

  private refill(bucket: Bucket, now: number): void {
    // Nothing accrues during a pause (the bucket holds the one token it was given when the pause began).
    const from = Math.max(bucket.refilledAt, Math.min(now, bucket.pausedUntil));
    if (now > from)
      bucket.tokens = Math.min(this.capacity(bucket), bucket.tokens + ((now - from) / 1000) * bucket.rate);
    else bucket.tokens = Math.min(this.capacity(bucket), bucket.tokens);
    bucket.refilledAt = now;
  }

  /** Grants what can go now, and sets one timer for the next waiter. */
  private schedule(bucket: Bucket): void {
    if (bucket.timer) clearTimeout(bucket.timer);
    bucket.timer = undefined;
    const now = this.now();
    this.refill(bucket, now);
    while (bucket.queue.length > 0 && this.mayGrant(bucket, now)) {
      this.grantOne(bucket);
      bucket.queue.shift()!.grant();
    }
    if (bucket.queue.length === 0) return;
    let at = Math.max(bucket.pausedUntil, now + (Math.max(0, 1 - bucket.tokens) / bucket.rate) * 1000);
    if (bucket.window && this.used(bucket, now) >= bucket.window.limit) {
      const oldest = bucket.answeredAt[0];
      // All slots in flight: settle() schedules again when one comes back.
      if (oldest === undefined) return;
      at = Math.max(at, oldest + bucket.window.perMs);
    }
    bucket.timer = setTimeout(() => this.schedule(bucket), Math.max(1, Math.ceil(at - now)));
    bucket.timer.unref?.();
  }
}

function sameWindow(a: ProviderWindow | undefined, b: ProviderWindow | undefined): boolean {
  return a === b || (a !== undefined && b !== undefined && a.limit === b.limit && a.perMs === b.perMs);
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
