/**
 * Paces an outbox relay by the receiver's own load: while the receiver is enqueueing (an enqueue in flight,
 * or one ended less than `quietMs` ago), a job the relay took waits before its Temporal start, so the start's
 * CPU (the relay's gRPC and payload work here, the Temporal frontend's on the same host) is not spent while
 * acknowledgements are waiting for it. The wait is bounded: a job starts at the latest `maxDeferMs` after it
 * was enqueued, whatever the load, so under constant load the relay still starts everything, each event at
 * most `maxDeferMs` later than it would have (a backlog older than that is started at once, at the relay's
 * full concurrency). Durability does not depend on it: a waiting job is an active BullMQ job like one being
 * started (its lock renewed; taken over by another relay if this one dies).
 */
export interface RelayPacerOptions {
  /** The receiver counts as busy while an enqueue is in flight or one ended less than this ago. @default 50 ms */
  quietMs?: number;
  /** Longest wait of a job for a quiet moment, from when it was enqueued; 0: no pacing. @default 1000 ms */
  maxDeferMs?: number;
  /** Clock (tests). @default Date.now */
  now?: () => number;
}

/** Thrown to the jobs still waiting when the relay is closed by force (as a crash: they are not started). */
export class RelayClosedError extends Error {
  constructor() {
    super('webhook outbox: relay closed before this start');
    this.name = 'RelayClosedError';
  }
}

interface Waiter {
  release(): void;
  abandon(): void;
  timer: NodeJS.Timeout;
}

export class RelayPacer {
  readonly quietMs: number;
  readonly maxDeferMs: number;
  private readonly now: () => number;
  private inFlight = 0;
  private lastActivity = Number.NEGATIVE_INFINITY;
  private readonly waiters = new Set<Waiter>();
  private check?: NodeJS.Timeout;
  private closed = false;
  private abandoned = false;
  /** Jobs that waited, and how many of them started at their bound rather than at a quiet moment. */
  deferred = 0;
  deferBoundReached = 0;

  constructor(options: RelayPacerOptions = {}) {
    this.quietMs = options.quietMs ?? 50;
    this.maxDeferMs = options.maxDeferMs ?? 1000;
    this.now = options.now ?? Date.now;
  }

  /** An enqueue began. */
  enter(): void {
    this.inFlight += 1;
    this.lastActivity = this.now();
  }

  /** An enqueue ended (either way). */
  leave(): void {
    this.inFlight = Math.max(0, this.inFlight - 1);
    this.lastActivity = this.now();
    this.arm();
  }

  isQuiet(): boolean {
    return this.inFlight === 0 && this.now() - this.lastActivity >= this.quietMs;
  }

  /** Jobs waiting for a quiet moment now. */
  waiting(): number {
    return this.waiters.size;
  }

  /**
   * Resolves once the receiver is quiet, at `enqueuedAt + maxDeferMs` at the latest (never later than
   * `maxDeferMs` from now, whatever the enqueuer's clock said), or at once after a graceful close;
   * rejects with {@link RelayClosedError} after a forced one.
   */
  async wait(enqueuedAt: number): Promise<void> {
    if (this.closed) {
      if (this.abandoned) throw new RelayClosedError();
      return;
    }
    if (this.maxDeferMs <= 0 || this.isQuiet()) return;
    const now = this.now();
    const left = Math.min(this.maxDeferMs, enqueuedAt + this.maxDeferMs - now);
    if (left <= 0) return;
    this.deferred += 1;
    await new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        release: () => {
          clearTimeout(waiter.timer);
          this.waiters.delete(waiter);
          resolve();
        },
        abandon: () => {
          clearTimeout(waiter.timer);
          this.waiters.delete(waiter);
          reject(new RelayClosedError());
        },
        timer: setTimeout(() => {
          this.deferBoundReached += 1;
          waiter.release();
        }, left),
      };
      this.waiters.add(waiter);
      this.arm();
    });
  }

  /** Stops pacing: waiting jobs go on (`abandon`: they are refused instead, left in Redis as a crash leaves them). */
  close(options: { abandon?: boolean } = {}): void {
    this.closed = true;
    this.abandoned = options.abandon ?? false;
    if (this.check) clearTimeout(this.check);
    this.check = undefined;
    for (const w of [...this.waiters]) {
      if (this.abandoned) w.abandon();
      else w.release();
    }
  }

  /** One timer for all waiters: fires when the receiver has been quiet for `quietMs`, then releases them all. */
  private arm(): void {
    if (this.check || this.waiters.size === 0 || this.inFlight > 0) return;
    const delay = Math.max(0, this.lastActivity + this.quietMs - this.now());
    this.check = setTimeout(() => {
      this.check = undefined;
      if (this.isQuiet()) {
        for (const w of [...this.waiters]) w.release();
      } else {
        this.arm();
      }
    }, delay);
  }
}
