import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';
import { z } from 'zod';
import { crm } from '../../src/integrations/crm/crm.integration';
import { apiKey, defineIntegration, get, patch } from '../../src/integrations/kit/define';
import { env, secret } from '../../src/integrations/kit/refs';
import { fallbackKey, MemoryFallbackCache, RedisFallbackCache } from '../../src/integrations/runtime/fallback-cache';
import { captureLogs } from '../support/log-capture';

const REDIS_URL = 'redis://127.0.0.1:6379';

describe('fallback cache keys', () => {
  it('are the same for the same input whatever the order of its keys, and differ for another input', () => {
    const a = fallbackKey(crm, 'getCustomer', { params: { id: 'cus_0001', x: 1 } });
    const b = fallbackKey(crm, 'getCustomer', { params: { x: 1, id: 'cus_0001' } });
    expect(a).toBe(b);
    expect(a).not.toBe(fallbackKey(crm, 'getCustomer', { params: { id: 'cus_0002', x: 1 } }));
    expect(a).not.toBe(fallbackKey(crm, 'listCustomers', { params: { id: 'cus_0001', x: 1 } }));
  });

  it('name the integration, version and endpoint but never hold the input in clear', () => {
    const key = fallbackKey(crm, 'getCustomer', { query: { email: 'ada.lovelace@example.com' } });
    expect(key).toMatch(/^crm:v1:getCustomer:[0-9a-f]{64}$/);
    expect(key).not.toContain('ada');
  });
});

describe('MemoryFallbackCache', () => {
  it('returns what was stored with when it was stored, until its TTL runs out', async () => {
    let now = 1_000;
    const cache = new MemoryFallbackCache({ now: () => now });
    await cache.set('k', { id: 'cus_1' }, 500);
    now = 1_499;
    expect(await cache.get('k')).toEqual({ value: { id: 'cus_1' }, storedAt: 1_000 });
    now = 1_500;
    expect(await cache.get('k')).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('evicts the least recently used entry beyond its bound', async () => {
    const cache = new MemoryFallbackCache({ maxEntries: 2, now: () => 0 });
    await cache.set('a', 1, 1_000);
    await cache.set('b', 2, 1_000);
    await cache.get('a'); // a is now more recent than b
    await cache.set('c', 3, 1_000);
    expect(await cache.get('b')).toBeUndefined();
    expect((await cache.get('a'))?.value).toBe(1);
    expect((await cache.get('c'))?.value).toBe(3);
    expect(cache.size).toBe(2);
  });

  it('keeps its own copy, so a caller mutating an answer does not change the next answer', async () => {
    const cache = new MemoryFallbackCache();
    const stored = { tier: 'pro' };
    await cache.set('k', stored, 1_000);
    stored.tier = 'free';
    const first = (await cache.get('k'))!.value as { tier: string };
    first.tier = 'enterprise';
    expect((await cache.get('k'))!.value).toEqual({ tier: 'pro' });
  });

  it('caches a null answer as a hit, not as a miss', async () => {
    const cache = new MemoryFallbackCache();
    await cache.set('k', null, 1_000);
    expect(await cache.get('k')).toMatchObject({ value: null });
  });
});

describe('RedisFallbackCache against the real Redis', () => {
  const prefix = `di:fallback:test-${randomBytes(6).toString('hex')}:`;
  const admin = new Redis(REDIS_URL, { lazyConnect: true });
  afterAll(async () => {
    const keys = await admin.keys(`${prefix}*`);
    if (keys.length > 0) await admin.del(...keys);
    await admin.quit();
  });

  it('stores JSON under the prefix with a TTL and reads it back with when it was stored', async () => {
    const cache = new RedisFallbackCache({ url: REDIS_URL, logger: captureLogs().logger, prefix, now: () => 42_000 });
    try {
      expect(await cache.whenReady()).toBe(true);
      const key = fallbackKey(crm, 'getCustomer', { params: { id: 'cus_0001' } });
      await cache.set(key, { id: 'cus_0001', name: 'Ada Lovelace' }, 60_000);
      expect(await cache.get(key)).toEqual({ value: { id: 'cus_0001', name: 'Ada Lovelace' }, storedAt: 42_000 });
      const ttl = await admin.pttl(prefix + key);
      expect(ttl).toBeGreaterThan(50_000);
      expect(ttl).toBeLessThanOrEqual(60_000);
      expect(JSON.parse((await admin.get(prefix + key))!)).toEqual({
        v: { id: 'cus_0001', name: 'Ada Lovelace' },
        t: 42_000,
      });
      expect(await cache.get(fallbackKey(crm, 'getCustomer', { params: { id: 'cus_0002' } }))).toBeUndefined();
    } finally {
      await cache.close();
    }
  });

  it('uses di:fallback: as its default key prefix', async () => {
    const cache = new RedisFallbackCache({ url: REDIS_URL, logger: captureLogs().logger });
    const key = `test-${randomBytes(6).toString('hex')}`;
    try {
      await cache.whenReady();
      await cache.set(key, 1, 10_000);
      expect(await admin.get(`di:fallback:${key}`)).not.toBeNull();
    } finally {
      await admin.del(`di:fallback:${key}`);
      await cache.close();
    }
  });

  it('treats an unreadable entry as a miss and says so', async () => {
    const capture = captureLogs();
    const cache = new RedisFallbackCache({ url: REDIS_URL, logger: capture.logger, prefix });
    try {
      await cache.whenReady();
      await admin.set(`${prefix}garbage`, 'not json', 'PX', 60_000);
      expect(await cache.get('garbage')).toBeUndefined();
      expect(capture.records().map((r) => r.msg)).toContain('fallback cache: unreadable entry ignored (a miss)');
    } finally {
      await cache.close();
    }
  });

  it('with Redis unreachable, misses and stores nothing without throwing, and warns once', async () => {
    const port = await closedPort();
    const capture = captureLogs();
    const cache = new RedisFallbackCache({ url: `redis://:s3cret-pw@127.0.0.1:${port}`, logger: capture.logger });
    try {
      expect(await cache.whenReady(300)).toBe(false);
      for (let i = 0; i < 3; i++) {
        await expect(cache.set('k', { a: 1 }, 1_000)).resolves.toBeUndefined();
        await expect(cache.get('k')).resolves.toBeUndefined();
      }
      const warnings = capture.records().filter((r) => r.level === 40);
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatchObject({ cache: 'redis' });
      expect(capture.lines().join('\n')).not.toContain('s3cret-pw');
    } finally {
      await cache.close();
    }
  });

  it('refuses a URL that is not redis:// or rediss:// without repeating it', () => {
    let message = '';
    try {
      new RedisFallbackCache({ url: 'http://:s3cret-pw@cache:6379', logger: captureLogs().logger });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/^FALLBACK_REDIS_URL: expected redis:\/\//);
    expect(message).not.toContain('s3cret-pw');
  });
});

describe('declaring a fallback', () => {
  const base = {
    name: 'shop',
    version: 'v1',
    purpose: 'test',
    owner: 'test',
    baseUrl: env('CRM_URL'),
    auth: apiKey({ header: 'x-api-key', key: secret('CRM_API_KEY') }),
    idempotency: { header: 'Idempotency-Key', retention: '24 hours' as const },
  };
  const Item = z.object({ id: z.string() });

  it('is accepted on a safe read, with a cache, a default matching the response, or both', () => {
    expect(() =>
      defineIntegration({
        ...base,
        endpoints: {
          getItem: get('items/:id', {
            response: Item,
            fallback: { cache: { fresh: '1 second', stale: '1 minute' }, default: { id: 'none' } },
          }),
        },
      }),
    ).not.toThrow();
  });

  it('is refused on a write, naming the field', () => {
    expect(() =>
      defineIntegration({
        ...base,
        endpoints: {
          setItem: patch('items/:id', { response: Item, fallback: { default: { id: 'none' } } }),
        },
      }),
    ).toThrow('integration "shop": endpoints.setItem.fallback: only a safe read may declare a fallback');
  });

  it('is refused with a default that does not match the response schema, or with negative windows', () => {
    expect(() =>
      defineIntegration({
        ...base,
        endpoints: { getItem: get('items/:id', { response: Item, fallback: { default: { id: 7 } } }) },
      }),
    ).toThrow("endpoints.getItem.fallback.default: does not match the endpoint's response schema");
    expect(() =>
      defineIntegration({
        ...base,
        endpoints: {
          getItem: get('items/:id', { response: Item, fallback: { cache: { fresh: -1, stale: 10 } } }),
        },
      }),
    ).toThrow('endpoints.getItem.fallback.cache.fresh');
  });

  it('is declared on crm.getCustomer: fresh 30 s, stale 10 minutes, no default', () => {
    expect(crm.endpoints.getCustomer.fallback).toEqual({ cache: { fresh: '30 seconds', stale: '10 minutes' } });
  });
});

/** A port nothing listens on: bound once to get a free number, then closed. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
