import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Logger } from '../../observability/logger';
import type { Duration } from '@temporalio/common';
import { durationMs } from '../kit/duration';

/**
 * Where declared fallbacks (`fallback.cache` on a safe read, see kit/define.ts) keep the last good
 * answers: per worker in memory by default, or shared in Redis. A cache is an optimisation and a
 * safety net, never a dependency: its failures are misses, never failed calls.
 */

export interface CachedAnswer {
  value: unknown;
  /** When it was stored, ms since the epoch (on the cache's clock). */
  storedAt: number;
}

export interface FallbackCache {
  /** The answer stored under `key` while its TTL lasts; undefined on a miss (or when the cache is unavailable). */
  get(key: string): Promise<CachedAnswer | undefined>;
  /** Stores an answer for `ttlMs`. Never throws. */
  set(key: string, value: unknown, ttlMs: number): Promise<void>;
  /** Releases connections (Redis); optional. */
  close?(): Promise<void>;
}

/**
 * The cache key of one call: integration, version and endpoint in clear (for operators), the input
 * (params and query) as a SHA-256 of its canonical JSON, so customer ids and emails never appear in a
 * key. Two calls with the same input, whatever the key order of their objects, share an entry.
 */
export function fallbackKey(
  integration: { name: string; version: string },
  endpoint: string,
  input: { params?: unknown; query?: unknown; variables?: unknown },
): string {
  // A GraphQL read's variables are part of its input; the key of any other read is unchanged.
  const parts: Record<string, unknown> = { params: input.params ?? null, query: input.query ?? null };
  if (input.variables !== undefined) parts.variables = input.variables;
  const digest = createHash('sha256').update(canonicalJson(parts)).digest('hex');
  return `${integration.name}:${integration.version}:${endpoint}:${digest}`;
}

/** JSON with object keys sorted at every depth (undefined members dropped, as JSON.stringify does). */
function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const members = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`);
  return `{${members.join(',')}}`;
}

/**
 * Per-process cache, bounded: beyond `maxEntries` the least recently used entry goes. Values are
 * copied in and out, so a caller mutating an answer cannot change what the next caller gets.
 */
export class MemoryFallbackCache implements FallbackCache {
  private readonly entries = new Map<string, { value: unknown; storedAt: number; expiresAt: number }>();
  private readonly maxEntries: number;
  private readonly now: () => number;

  constructor(options: { maxEntries?: number; now?: () => number } = {}) {
    this.maxEntries = Math.max(1, options.maxEntries ?? 1_000);
    this.now = options.now ?? Date.now;
  }

  get(key: string): Promise<CachedAnswer | undefined> {
    const entry = this.entries.get(key);
    if (!entry) return Promise.resolve(undefined);
    if (this.now() >= entry.expiresAt) {
      this.entries.delete(key);
      return Promise.resolve(undefined);
    }
    // Re-inserting moves it to the end of the Map's order: the front is the least recently used.
    this.entries.delete(key);
    this.entries.set(key, entry);
    return Promise.resolve({ value: structuredClone(entry.value), storedAt: entry.storedAt });
  }

  set(key: string, value: unknown, ttlMs: number): Promise<void> {
    const storedAt = this.now();
    this.entries.delete(key);
    this.entries.set(key, { value: structuredClone(value), storedAt, expiresAt: storedAt + ttlMs });
    for (const oldest of this.entries.keys()) {
      if (this.entries.size <= this.maxEntries) break;
      this.entries.delete(oldest);
    }
    return Promise.resolve();
  }

  get size(): number {
    return this.entries.size;
  }

  close(): Promise<void> {
    this.entries.clear();
    return Promise.resolve();
  }
}

export interface RedisFallbackCacheOptions {
  /** `redis://[:password@]host:port[/db]` or `rediss://` (TLS). May hold a password: never logged. */
  url: string;
  logger: Logger;
  /** Prefix of every key. @default di:fallback: */
  prefix?: string;
  /** A command slower than this is a miss: a slow cache must not slow the call it should rescue. @default 250 ms */
  commandTimeout?: Duration;
  /** Clock for `storedAt`. @default Date.now */
  now?: () => number;
}

/**
 * Shared cache in Redis (ioredis): JSON values `{"v":…,"t":storedAt}` with a TTL (`SET … PX`). Every
 * Redis problem (down, slow, an unreadable value) is logged once per outage, at warn, and is a miss:
 * commands are not queued while disconnected and time out after `commandTimeout`.
 */
export class RedisFallbackCache implements FallbackCache {
  private readonly redis: Redis;
  private readonly prefix: string;
  private readonly now: () => number;
  private readonly logger: Logger;
  /** False from the first error until a command succeeds again: one warning per outage, not one per call. */
  private healthy = true;

  constructor(options: RedisFallbackCacheOptions) {
    this.prefix = options.prefix ?? 'di:fallback:';
    this.now = options.now ?? Date.now;
    this.logger = options.logger;
    if (!/^rediss?:\/\/[^/]/.test(options.url)) {
      // The URL is not repeated: it may hold a password.
      throw new Error('FALLBACK_REDIS_URL: expected redis://[:password@]host:port[/db] or rediss://… (TLS)');
    }
    this.redis = new Redis(options.url, {
      enableOfflineQueue: false, // disconnected: fail at once (a miss) instead of waiting for a reconnect
      maxRetriesPerRequest: 0,
      commandTimeout: durationMs(options.commandTimeout ?? '250 ms'),
      connectTimeout: 1_000,
      disconnectTimeout: 100, // close() of a never-connected client: do not keep the process up for 2 s
      retryStrategy: (times) => Math.min(times * 200, 5_000), // keep reconnecting in the background
    });
    // Without a listener ioredis prints every connection error; report the first of an outage instead.
    this.redis.on('error', (err: Error) => this.failed('connection', err));
  }

  async get(key: string): Promise<CachedAnswer | undefined> {
    let raw: string | null;
    try {
      raw = await this.redis.get(this.prefix + key);
    } catch (err) {
      this.failed('get', err);
      return undefined;
    }
    this.ok();
    if (raw === null) return undefined;
    try {
      const parsed = JSON.parse(raw) as { v?: unknown; t?: unknown };
      if (typeof parsed.t !== 'number' || !('v' in parsed)) throw new Error('not a cached answer');
      return { value: parsed.v, storedAt: parsed.t };
    } catch {
      this.logger.warn({ cache: 'redis', operation: 'get' }, 'fallback cache: unreadable entry ignored (a miss)');
      return undefined;
    }
  }

  async set(key: string, value: unknown, ttlMs: number): Promise<void> {
    try {
      const json = JSON.stringify({ v: value, t: this.now() });
      await this.redis.set(this.prefix + key, json, 'PX', Math.max(1, Math.round(ttlMs)));
      this.ok();
    } catch (err) {
      this.failed('set', err);
    }
  }

  /**
   * Resolves true once connected (false after `timeoutMs`). Until then every command is a miss: nothing
   * waits for Redis, so a worker may await this at start-up to have its cache from the first call.
   */
  async whenReady(timeoutMs = 1_000): Promise<boolean> {
    if (this.redis.status === 'ready') return true;
    return new Promise((resolve) => {
      const done = (ready: boolean) => {
        clearTimeout(timer);
        this.redis.off('ready', onReady);
        resolve(ready);
      };
      const onReady = () => done(true);
      const timer = setTimeout(() => done(false), timeoutMs);
      this.redis.once('ready', onReady);
    });
  }

  async close(): Promise<void> {
    if (this.redis.status !== 'ready') return this.redis.disconnect(); // also stops reconnecting
    try {
      await this.redis.quit();
    } catch {
      this.redis.disconnect();
    }
  }

  private ok(): void {
    if (!this.healthy) this.logger.info({ cache: 'redis' }, 'fallback cache: Redis reachable again');
    this.healthy = true;
  }

  private failed(operation: string, err: unknown): void {
    if (!this.healthy) return;
    this.healthy = false;
    // The message only: ioredis errors can carry the command's arguments (keys and cached answers).
    this.logger.warn(
      { cache: 'redis', operation, error: (err as Error).message },
      'fallback cache: Redis unavailable; calls go on without it (misses) until it is back',
    );
  }
}
