import type { SandboxConfig } from './config';
import type { Reply, SandboxRequest } from './http';
import type { IdempotencyStore } from './idempotency';
import type { Ledger } from './ledger';
import type { Stats } from './stats';
import type { ReceivedTraces } from './traces';
import type { ProviderName, SandboxCredentials } from './types';

/** Shared state every provider module is built from. */
export interface SandboxContext {
  readonly credentials: SandboxCredentials;
  readonly now: () => number;
  readonly config: SandboxConfig;
  readonly ledger: Ledger;
  readonly stats: Stats;
  /** The `traceparent` of each provider request (or its absence). */
  readonly traces: ReceivedTraces;
  readonly idempotency: IdempotencyStore;
  /** Aborted on reset and close: background work (jobs, webhooks, delays) stops with it. */
  signal(): AbortSignal;
  baseUrl(): string;
}

export type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';

export interface Route {
  readonly method: Method;
  /** `/crm/customers/:id` style; `:name` matches one path segment. */
  readonly pattern: string;
  readonly handle: (req: SandboxRequest) => Reply | Promise<Reply>;
}

export interface Provider {
  readonly name: ProviderName;
  readonly routes: readonly Route[];
  /** Forget everything (admin reset). */
  reset(): void;
  /** Forget created records, keep sessions and settings (admin ledger clear). */
  clearRecords(): void;
}
