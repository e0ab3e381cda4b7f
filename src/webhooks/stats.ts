/** In-memory counters, served at `GET /stats`. Reset only by a restart. */
export interface ReceiverStatsSnapshot {
  /** Requests that reached a webhook route. */
  received: number;
  /** New events whose workflow Temporal durably accepted. */
  accepted: number;
  /** Redeliveries of an event already started (answered 200, nothing new started). */
  duplicates: number;
  /** Answered 200 right after verification (the `verifyOnly` benchmark baseline). */
  verifiedOnly: number;
  /** Refusals by reason, e.g. `signature_mismatch`, `temporal_unavailable`. */
  rejected: Record<string, number>;
}

export class ReceiverStats {
  private received = 0;
  private accepted = 0;
  private duplicates = 0;
  private verifiedOnly = 0;
  private readonly rejected = new Map<string, number>();

  count(outcome: 'received' | 'accepted' | 'duplicates' | 'verifiedOnly'): void {
    this[outcome] += 1;
  }

  reject(reason: string): void {
    this.rejected.set(reason, (this.rejected.get(reason) ?? 0) + 1);
  }

  snapshot(): ReceiverStatsSnapshot {
    return {
      received: this.received,
      accepted: this.accepted,
      duplicates: this.duplicates,
      verifiedOnly: this.verifiedOnly,
      rejected: Object.fromEntries([...this.rejected].sort(([a], [b]) => a.localeCompare(b))),
    };
  }
}
