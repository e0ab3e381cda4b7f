import type { Duration } from '@temporalio/common';
import { durationMs } from '../../kit/duration';
/**
 * An OAuth2 access token cache for one integration in one worker process.
 *
 * - fresh: served from cache;
 * - stale (inside `refreshAhead` of expiry) but valid: served from cache while one background refresh
 *   runs (stale-while-revalidate); if that refresh fails the cached token keeps being served until it
 *   expires (stale-if-error);
 * - expired or absent: callers wait for a refresh;
 * - at most one refresh is in flight at a time, however many calls want a token.
 */
export interface Token {
  value: string;
  /** Epoch ms. */
  expiresAt: number;
  /** Fetched after a 401 invalidated the previous token: a 401 with this one is final. */
  afterRejection: boolean;
}

export interface TokenCacheOptions {
  fetch: () => Promise<{ value: string; expiresInMs: number }>;
  /** Refresh this long before expiry, in the background, while still serving the cached token. @default 1 minute */
  refreshAhead?: Duration;
  /** Treat tokens as expired this much early, for clock skew and request latency. @default 5 seconds */
  safetyMargin?: Duration;
  now?: () => number;
  /** Told about background refresh failures (they do not fail any call). */
  onBackgroundError?: (err: unknown) => void;
}

export class TokenCache {
  private token: Token | undefined;
  private inflight: Promise<Token> | undefined;
  private nextIsAfterRejection = false;
  private readonly now: () => number;

  constructor(private readonly options: TokenCacheOptions) {
    this.now = options.now ?? Date.now;
  }

  async get(): Promise<Token> {
    const t = this.token;
    const now = this.now();
    const validUntil = t ? t.expiresAt - durationMs(this.options.safetyMargin ?? '5 seconds') : 0;
    if (t && now < validUntil) {
      if (now >= validUntil - durationMs(this.options.refreshAhead ?? '1 minute')) {
        this.refresh().catch((err: unknown) => this.options.onBackgroundError?.(err));
      }
      return t;
    }
    return this.refresh();
  }

  /** The provider accepted `used`: a later 401 with it deserves a refresh again. */
  confirm(used: Token): void {
    used.afterRejection = false;
  }

  /** Drops `used` after the provider rejected it; the next token is marked so a second 401 is final. */
  invalidate(used: Token): void {
    if (this.token === used) {
      this.token = undefined;
      this.nextIsAfterRejection = true;
    }
  }

  private refresh(): Promise<Token> {
    this.inflight ??= (async () => {
      try {
        const { value, expiresInMs } = await this.options.fetch();
        const token = { value, expiresAt: this.now() + expiresInMs, afterRejection: this.nextIsAfterRejection };
        this.token = token;
        this.nextIsAfterRejection = false;
        return token;
      } finally {
        this.inflight = undefined;
      }
    })();
    return this.inflight;
  }
}
