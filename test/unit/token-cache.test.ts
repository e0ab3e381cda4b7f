import { TokenCache } from '../../src/integrations/runtime/auth/token-cache';

/** A token endpoint under the test's control: each fetch waits until the test resolves or rejects it. */
function fakeEndpoint() {
  const pending: { resolve: (v: { value: string; expiresInMs: number }) => void; reject: (e: Error) => void }[] = [];
  let issued = 0;
  return {
    fetch: () =>
      new Promise<{ value: string; expiresInMs: number }>((resolve, reject) => {
        pending.push({ resolve, reject });
      }),
    answer(expiresInMs = 300_000) {
      pending.shift()!.resolve({ value: `token-${++issued}`, expiresInMs });
    },
    fail() {
      pending.shift()!.reject(new Error('token endpoint down'));
    },
    get waiting() {
      return pending.length;
    },
  };
}

describe('TokenCache', () => {
  let now = 0;
  const clock = () => now;
  beforeEach(() => {
    now = 1_000_000;
  });

  it('shares one token request among concurrent callers', async () => {
    const endpoint = fakeEndpoint();
    const cache = new TokenCache({ fetch: endpoint.fetch, now: clock });
    const calls = Promise.all([cache.get(), cache.get(), cache.get()]);
    expect(endpoint.waiting).toBe(1);
    endpoint.answer();
    expect((await calls).map((t) => t.value)).toEqual(['token-1', 'token-1', 'token-1']);
  });

  it('serves a fresh token from cache without any request', async () => {
    const endpoint = fakeEndpoint();
    const cache = new TokenCache({ fetch: endpoint.fetch, now: clock, refreshAhead: 60_000 });
    const first = cache.get();
    endpoint.answer(300_000);
    await first;
    now += 200_000;
    expect((await cache.get()).value).toBe('token-1');
    expect(endpoint.waiting).toBe(0);
  });

  it('serves a stale token at once while one background refresh runs', async () => {
    const endpoint = fakeEndpoint();
    const cache = new TokenCache({ fetch: endpoint.fetch, now: clock, refreshAhead: 60_000, safetyMargin: 0 });
    const first = cache.get();
    endpoint.answer(300_000);
    await first;
    now += 250_000; // inside the refresh-ahead window
    expect((await cache.get()).value).toBe('token-1');
    expect((await cache.get()).value).toBe('token-1');
    expect(endpoint.waiting).toBe(1);
    endpoint.answer();
    await Promise.resolve();
    await new Promise((r) => setImmediate(r));
    expect((await cache.get()).value).toBe('token-2');
  });

  it('keeps serving a still-valid token when the refresh fails, and reports the failure', async () => {
    const endpoint = fakeEndpoint();
    const errors: unknown[] = [];
    const cache = new TokenCache({
      fetch: endpoint.fetch,
      now: clock,
      refreshAhead: 60_000,
      safetyMargin: 0,
      onBackgroundError: (e) => errors.push(e),
    });
    const first = cache.get();
    endpoint.answer(300_000);
    await first;
    now += 250_000;
    expect((await cache.get()).value).toBe('token-1');
    endpoint.fail();
    await new Promise((r) => setImmediate(r));
    expect(errors).toHaveLength(1);
    expect((await cache.get()).value).toBe('token-1');
  });

  it('makes callers wait for a new token once the cached one has expired, and fails them if none comes', async () => {
    const endpoint = fakeEndpoint();
    const cache = new TokenCache({ fetch: endpoint.fetch, now: clock, safetyMargin: 5_000 });
    const first = cache.get();
    endpoint.answer(60_000);
    await first;
    now += 56_000; // past expiry minus the safety margin
    const waiting = cache.get();
    expect(endpoint.waiting).toBe(1);
    endpoint.fail();
    await expect(waiting).rejects.toThrow('token endpoint down');
  });

  it('marks the token fetched after a rejection, so a second 401 is final', async () => {
    const endpoint = fakeEndpoint();
    const cache = new TokenCache({ fetch: endpoint.fetch, now: clock });
    const first = cache.get();
    endpoint.answer();
    const rejected = await first;
    expect(rejected.afterRejection).toBe(false);
    cache.invalidate(rejected);
    const next = cache.get();
    endpoint.answer();
    expect(await next).toMatchObject({ value: 'token-2', afterRejection: true });
  });
});
