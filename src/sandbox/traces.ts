/** One provider request as the sandbox saw it, for tests of trace propagation (`GET /admin/traces`). */
export interface ReceivedTrace {
  at: string;
  /** `<METHOD> <route pattern>`, as in the stats, e.g. `POST /payments/payments`. */
  route: string;
  /** The W3C `traceparent` header the request carried, or null when it carried none. */
  traceparent: string | null;
}

/** The last {@link ReceivedTraces.limit} provider requests and their `traceparent`, oldest first. */
export class ReceivedTraces {
  static readonly limit = 2_000;
  private entries: ReceivedTrace[] = [];

  constructor(private readonly now: () => number) {}

  record(route: string, traceparent: string | string[] | undefined): void {
    const value = Array.isArray(traceparent) ? (traceparent[0] ?? null) : (traceparent ?? null);
    this.entries.push({ at: new Date(this.now()).toISOString(), route, traceparent: value });
    if (this.entries.length > ReceivedTraces.limit) this.entries.splice(0, this.entries.length - ReceivedTraces.limit);
  }

  list(): ReceivedTrace[] {
    return this.entries.map((entry) => ({ ...entry }));
  }

  clear(): void {
    this.entries = [];
  }
}
