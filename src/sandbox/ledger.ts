import type { LedgerEffect, LedgerEntry, ProviderName } from './types';

/** Append-only record of applied side effects: the ground truth tests compare client beliefs against. */
export class Ledger {
  private entries: LedgerEntry[] = [];
  private seq = 0;

  constructor(private readonly now: () => number) {}

  record(entry: {
    provider: ProviderName;
    effect: LedgerEffect;
    idempotencyKey: string | null;
    resourceId: string;
    request: Record<string, unknown>;
  }): LedgerEntry {
    this.seq += 1;
    const full: LedgerEntry = { seq: this.seq, at: new Date(this.now()).toISOString(), ...entry };
    this.entries.push(full);
    return full;
  }

  list(): LedgerEntry[] {
    return this.entries.map((entry) => structuredClone(entry));
  }

  clear(): void {
    this.entries = [];
    this.seq = 0;
  }
}
