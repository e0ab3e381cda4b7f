import { AdaptiveLimiter, type Admission } from '../../src/integrations/runtime/adaptive-limiter';

// A fake clock: jest's fake timers drive both Date.now (the limiter's clock) and setTimeout (its timer).
const T0 = Date.parse('2026-01-01T00:00:00Z');

beforeEach(() => jest.useFakeTimers({ now: T0 }));
afterEach(() => jest.useRealTimers());

const background = { maxWaitMs: 10_000 };
const elapsed = () => Date.now() - T0;
const rateLimited = (retryAfterSeconds?: number) => ({
  rateLimited: true,
  headers: retryAfterSeconds === undefined ? {} : { 'retry-after': String(retryAfterSeconds) },
});
const clean = { rateLimited: false, headers: { 'x-ratelimit-remaining': '5' } };

/** Starts `n` background acquisitions and records when each is granted (ms since T0). */
function startMany(limiter: AdaptiveLimiter, n: number, rate: number): number[] {
  const grantedAt: number[] = [];
  for (let i = 0; i < n; i++) {
    void limiter.acquire('email', rate, background).then(() => grantedAt.push(elapsed()));
  }
  return grantedAt;
}

/** `ms` of clean answers, one every 100 ms. */
async function cleanTraffic(limiter: AdaptiveLimiter, rate: number, ms: number) {
  for (let t = 0; t < ms; t += 100) {
    await jest.advanceTimersByTimeAsync(100);
    limiter.observe('email', rate, clean);
  }
}

describe('AdaptiveLimiter', () => {
  it('paces calls evenly at the declared rate, with no burst', async () => {
    const limiter = new AdaptiveLimiter();
    const grantedAt = startMany(limiter, 5, 2);
    await jest.advanceTimersByTimeAsync(2_000);
    expect(grantedAt).toEqual([0, 500, 1_000, 1_500, 2_000]);
  });

  it('halves the rate on a 429 and sends nothing until its Retry-After has passed', async () => {
    const limiter = new AdaptiveLimiter();
    await limiter.acquire('email', 4, background);
    limiter.observe('email', 4, rateLimited(2));
    expect(limiter.state('email')).toMatchObject({ rate: 2, ceiling: 3.6, decreases: 1 });
    expect(limiter.state('email')!.pausedUntil).toBe(T0 + 2_000);

    const grantedAt = startMany(limiter, 3, 4);
    await jest.advanceTimersByTimeAsync(3_000);
    // The pause ends at 2 s; then one call every 1/2 s at the halved rate.
    expect(grantedAt).toEqual([2_000, 2_500, 3_000]);
  });

  it('treats x-ratelimit-remaining: 0 as a spent window: lowers the rate and waits for x-ratelimit-reset', async () => {
    const limiter = new AdaptiveLimiter();
    await limiter.acquire('email', 4, background);
    const resetEpochSeconds = Math.ceil((T0 + 1_500) / 1000);
    limiter.observe('email', 4, {
      rateLimited: false,
      headers: { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(resetEpochSeconds) },
    });
    expect(limiter.state('email')).toMatchObject({ rate: 2, pausedUntil: resetEpochSeconds * 1000 });

    // A small reset value is seconds from now (the IETF RateLimit-Reset header).
    const other = new AdaptiveLimiter();
    await other.acquire('crm', 10, background);
    other.observe('crm', 10, { rateLimited: false, headers: { 'ratelimit-remaining': '0', 'ratelimit-reset': '3' } });
    expect(other.state('crm')).toMatchObject({ rate: 5, pausedUntil: T0 + 3_000 });

    // Ignored when told to (a provider whose headers are not trustworthy).
    const blind = new AdaptiveLimiter({ rateLimitHeaders: false });
    await blind.acquire('email', 4, background);
    blind.observe('email', 4, { rateLimited: false, headers: { 'x-ratelimit-remaining': '0' } });
    expect(blind.state('email')).toMatchObject({ rate: 4, decreases: 0, pausedUntil: 0 });
  });

  it('counts the 429s of calls already in flight as one episode, then cuts again on a later one', async () => {
    const limiter = new AdaptiveLimiter({ hold: 1_000 });
    await limiter.acquire('email', 8, background);
    limiter.observe('email', 8, rateLimited());
    limiter.observe('email', 8, rateLimited());
    await jest.advanceTimersByTimeAsync(500);
    limiter.observe('email', 8, rateLimited());
    expect(limiter.state('email')).toMatchObject({ rate: 4, decreases: 1 });
    await jest.advanceTimersByTimeAsync(600);
    limiter.observe('email', 8, rateLimited());
    expect(limiter.state('email')).toMatchObject({ rate: 2, decreases: 2 });
  });

  it('recovers by 10 % of the declared rate per second of clean traffic, up to 90 % of the rate that drew the 429', async () => {
    const limiter = new AdaptiveLimiter({ ceilingMemory: 60_000 });
    await limiter.acquire('email', 10, background);
    limiter.observe('email', 10, rateLimited());
    expect(limiter.state('email')!.rate).toBe(5);

    const rates: number[] = [];
    for (let second = 0; second < 6; second++) {
      await cleanTraffic(limiter, 10, 1_000);
      rates.push(limiter.state('email')!.rate);
    }
    // +1/s (10 % of 10), then held at 9 (90 % of the 10/s that was rate-limited).
    expect(rates.map((r) => Math.round(r * 10) / 10)).toEqual([6, 7, 8, 9, 9, 9]);
  });

  it('never recovers above the declared rate, even once the 429 is forgotten', async () => {
    const limiter = new AdaptiveLimiter({ ceilingMemory: 3_000 });
    await limiter.acquire('email', 2, background);
    limiter.observe('email', 2, rateLimited());
    let highest = 0;
    for (let second = 0; second < 20; second++) {
      await cleanTraffic(limiter, 2, 1_000);
      highest = Math.max(highest, limiter.state('email')!.rate);
    }
    expect(limiter.state('email')!.rate).toBe(2);
    expect(highest).toBe(2);
    expect(limiter.state('email')!.ceiling).toBe(2);
  });

  it('never lowers the rate below its floor (5 % of the declared rate)', async () => {
    const limiter = new AdaptiveLimiter({ hold: 0 });
    await limiter.acquire('email', 10, background);
    for (let i = 0; i < 20; i++) limiter.observe('email', 10, rateLimited());
    expect(limiter.state('email')!.rate).toBeCloseTo(0.5);
  });

  it('makes a background call wait for its token, and stops waiting when the activity is cancelled', async () => {
    const limiter = new AdaptiveLimiter();
    await limiter.acquire('email', 1, background);
    let admission: Admission | undefined;
    void limiter.acquire('email', 1, background).then((a) => (admission = a));
    await jest.advanceTimersByTimeAsync(999);
    expect(admission).toBeUndefined();
    await jest.advanceTimersByTimeAsync(1);
    expect(admission).toEqual({ admitted: true, waitedMs: 1_000 });

    const cancel = new AbortController();
    const cancelled = limiter.acquire('email', 1, { ...background, signal: cancel.signal });
    const after = limiter.acquire('email', 1, background);
    expect(limiter.state('email')!.waiting).toBe(2);
    cancel.abort(new Error('activity cancelled'));
    await expect(cancelled).rejects.toThrow('activity cancelled');
    // The cancelled waiter gave its place up: the next one gets the token at the 2 s mark.
    await jest.advanceTimersByTimeAsync(1_000);
    await expect(after).resolves.toEqual({ admitted: true, waitedMs: 1_000 });
  });

  it('refuses at once a call that would wait longer than its bound, with the estimated wait', async () => {
    const limiter = new AdaptiveLimiter({ userFlowMaxWait: 250, backgroundMaxWait: 10_000 });
    await limiter.acquire('email', 2, background);
    // The next token is 500 ms away: too long for a user flow, fine for background work.
    await expect(limiter.acquire('email', 2, { maxWaitMs: limiter.maxWaitMs('userFlow') })).resolves.toEqual({
      admitted: false,
      retryAfterMs: 500,
    });
    expect(limiter.state('email')!.waiting).toBe(0);
    void limiter.acquire('email', 2, { maxWaitMs: limiter.maxWaitMs('background') });
    // Behind one waiter and a 30 s Retry-After pause, even background work is sent back to Temporal.
    limiter.observe('email', 2, rateLimited(30));
    await expect(limiter.acquire('email', 2, { maxWaitMs: limiter.maxWaitMs('background') })).resolves.toEqual({
      admitted: false,
      retryAfterMs: 31_000,
    });
  });

  it("with the provider's window: sends its burst, frees each slot one window after its answer, and is not slowed by its own spent window", async () => {
    const limiter = new AdaptiveLimiter();
    const window = { limit: 3, perMs: 1_000 };
    const grantedAt: number[] = [];
    for (let i = 0; i < 5; i++) {
      void limiter.acquire('email', 3, { ...background, window }).then(async () => {
        grantedAt.push(elapsed());
        await new Promise((r) => setTimeout(r, 100)); // the provider answers 100 ms later...
        // ...the third saying the window is spent: expected, this process used it all.
        const remaining = String(i < 3 ? 2 - i : 5 - i);
        limiter.observe('email', 3, { rateLimited: false, headers: { 'x-ratelimit-remaining': remaining } });
        limiter.settle('email', true);
      });
    }
    await jest.advanceTimersByTimeAsync(1_200);
    // Three at once (the burst); the next two when the first answers are a window old: 100 ms + 1 s.
    expect(grantedAt).toEqual([0, 0, 0, 1_100, 1_100]);
    expect(limiter.state('email')).toMatchObject({ rate: 3, decreases: 0, pausedUntil: 0 });
    // A call that sent nothing (held back by a closed gate) frees its slot at once.
    await jest.advanceTimersByTimeAsync(1_200);
    await limiter.acquire('email', 3, { ...background, window });
    limiter.settle('email', false);
    await expect(limiter.acquire('email', 3, { ...background, window })).resolves.toMatchObject({ waitedMs: 0 });
  });
  it("with the provider's window: a slow answer saying the window is spent by this process's own earlier calls is no signal; under its own count it is", async () => {
    const limiter = new AdaptiveLimiter();
    const window = { limit: 3, perMs: 1_000 };
    const spent = (latencyMs: number) => ({
      rateLimited: false,
      headers: { 'x-ratelimit-remaining': '0' },
      latencyMs,
    });
    const go = () => limiter.acquire('email', 3, { ...background, window });
    // t=0: A, B, C leave; A answers at 50 ms, B at 60 ms, C (slow) at 900 ms.
    await Promise.all([go(), go(), go()]);
    await jest.advanceTimersByTimeAsync(50);
    limiter.settle('email', true);
    await jest.advanceTimersByTimeAsync(10);
    limiter.settle('email', true);
    await jest.advanceTimersByTimeAsync(840);
    limiter.settle('email', true);
    // D leaves at 1,050 ms, when A's slot frees; the provider counted B and C with it: "remaining: 0".
    const d = go();
    await jest.advanceTimersByTimeAsync(150);
    await expect(d).resolves.toMatchObject({ admitted: true, waitedMs: 150 });
    // D's answer comes 650 ms later, when B has left this process's window: counted over the window
    // before D left (B answered then), the process spent it itself.
    await jest.advanceTimersByTimeAsync(650);
    limiter.observe('email', 3, spent(650));
    limiter.settle('email', true);
    expect(limiter.state('email')).toMatchObject({ rate: 3, decreases: 0, pausedUntil: 0 });
    // Without the latency (as before), B would not count: taken for another client's use, a cut.
    const before = new AdaptiveLimiter();
    await Promise.all([0, 1, 2].map(() => before.acquire('email', 3, { ...background, window })));
    await jest.advanceTimersByTimeAsync(50);
    before.settle('email', true);
    await jest.advanceTimersByTimeAsync(10);
    before.settle('email', true);
    await jest.advanceTimersByTimeAsync(840);
    before.settle('email', true);
    await jest.advanceTimersByTimeAsync(150);
    await before.acquire('email', 3, { ...background, window });
    await jest.advanceTimersByTimeAsync(650);
    before.observe('email', 3, spent(0));
    expect(before.state('email')).toMatchObject({ decreases: 1 });
    // A quick answer saying the window is spent while this process used one slot of three: someone else
    // spends the quota, a signal whatever the latency.
    await jest.advanceTimersByTimeAsync(3_000);
    await go();
    await jest.advanceTimersByTimeAsync(20);
    limiter.observe('email', 3, spent(20));
    limiter.settle('email', true);
    expect(limiter.state('email')).toMatchObject({ decreases: 1, rate: 1.5 });
  });
});
