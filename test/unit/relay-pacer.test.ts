import { RelayClosedError, RelayPacer } from '../../src/webhooks/relay-pacer';

const T0 = Date.parse('2026-12-02T00:00:00Z');
beforeEach(() => jest.useFakeTimers({ now: T0 }));
afterEach(() => jest.useRealTimers());

/** Whether `p` settled, after letting microtasks run. */
async function settled(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  p.then(
    () => (done = true),
    () => (done = true),
  );
  await jest.advanceTimersByTimeAsync(0);
  return done;
}

describe('RelayPacer', () => {
  it('lets a start go at once while the receiver is quiet', async () => {
    const pacer = new RelayPacer({ quietMs: 50, maxDeferMs: 1000 });
    expect(await settled(pacer.wait(Date.now()))).toBe(true);
    expect(pacer.deferred).toBe(0);
  });

  it('holds a start while an enqueue is in flight, and releases it once the receiver was quiet for quietMs', async () => {
    const pacer = new RelayPacer({ quietMs: 50, maxDeferMs: 1000 });
    pacer.enter();
    const held = pacer.wait(Date.now());
    await jest.advanceTimersByTimeAsync(200);
    expect(await settled(held)).toBe(false);
    pacer.leave();
    await jest.advanceTimersByTimeAsync(49);
    expect(await settled(held)).toBe(false);
    await jest.advanceTimersByTimeAsync(1);
    expect(await settled(held)).toBe(true);
    expect(pacer).toMatchObject({ deferred: 1, deferBoundReached: 0 });
    expect(pacer.waiting()).toBe(0);
  });

  it('a new enqueue within the quiet window keeps holding', async () => {
    const pacer = new RelayPacer({ quietMs: 50, maxDeferMs: 1000 });
    pacer.enter();
    pacer.leave();
    const held = pacer.wait(Date.now());
    await jest.advanceTimersByTimeAsync(40);
    pacer.enter();
    pacer.leave();
    await jest.advanceTimersByTimeAsync(40);
    expect(await settled(held)).toBe(false);
    await jest.advanceTimersByTimeAsync(10);
    expect(await settled(held)).toBe(true);
  });

  it('never holds a start longer than maxDeferMs after its enqueue, however busy the receiver stays', async () => {
    const pacer = new RelayPacer({ quietMs: 50, maxDeferMs: 1000 });
    pacer.enter(); // never leaves: constant load
    const enqueuedAt = Date.now();
    await jest.advanceTimersByTimeAsync(300);
    const held = pacer.wait(enqueuedAt);
    await jest.advanceTimersByTimeAsync(699);
    expect(await settled(held)).toBe(false);
    await jest.advanceTimersByTimeAsync(1);
    expect(await settled(held)).toBe(true);
    expect(pacer).toMatchObject({ deferred: 1, deferBoundReached: 1 });
    // A job enqueued longer ago than the bound (a backlog, a retry) starts at once.
    expect(await settled(pacer.wait(enqueuedAt))).toBe(true);
    // An enqueue time in the future (another host's clock) still waits at most maxDeferMs from now.
    const skewed = pacer.wait(Date.now() + 60_000);
    await jest.advanceTimersByTimeAsync(1000);
    expect(await settled(skewed)).toBe(true);
  });

  it('maxDeferMs 0 turns pacing off', async () => {
    const pacer = new RelayPacer({ maxDeferMs: 0 });
    pacer.enter();
    expect(await settled(pacer.wait(Date.now()))).toBe(true);
    expect(pacer.deferred).toBe(0);
  });

  it('a graceful close releases the waiting starts; a forced one refuses them (left for another relay)', async () => {
    const graceful = new RelayPacer();
    graceful.enter();
    const released = graceful.wait(Date.now());
    graceful.close();
    await expect(released).resolves.toBeUndefined();
    await expect(graceful.wait(Date.now())).resolves.toBeUndefined();

    const forced = new RelayPacer();
    forced.enter();
    const refused = forced.wait(Date.now());
    forced.close({ abandon: true });
    await expect(refused).rejects.toBeInstanceOf(RelayClosedError);
    await expect(forced.wait(Date.now())).rejects.toBeInstanceOf(RelayClosedError);
    expect(forced.waiting()).toBe(0);
  });
});
