import type { StatsSnapshot } from './stats';
import type { ReceivedTrace } from './traces';
import type { LedgerEntry } from './types';

/** A fault for matching requests (see src/sandbox/faults.ts): `times` applies it that often, else until cleared. */
export interface FaultRule {
  method?: string;
  /** A path prefix, e.g. `/payments/payments`. */
  path: string;
  /** Match `path` only, not the paths under it. */
  exact?: boolean;
  fault: string;
  params?: Record<string, unknown>;
  times?: number;
}

/** The sandbox's admin API over HTTP, for `npm start`'s demo, the tests and the benchmarks. */
export class SandboxAdminClient {
  constructor(private readonly baseUrl: string) {}

  async ledger(): Promise<LedgerEntry[]> {
    return (await this.request('GET', '/admin/ledger')) as LedgerEntry[];
  }

  /** Adds a fault rule; its id removes it alone (`removeFault`). */
  async fault(rule: FaultRule): Promise<{ id: string }> {
    const { id } = (await this.request('POST', '/admin/faults', rule)) as { id: string };
    return { id };
  }

  /** Removes one rule; false when it was gone already (a `times` rule used up). */
  async removeFault(id: string): Promise<boolean> {
    try {
      await this.request('DELETE', `/admin/faults/${encodeURIComponent(id)}`);
      return true;
    } catch (err) {
      if (err instanceof Error && err.message.includes(' answered 404')) return false;
      throw err;
    }
  }

  async clearFaults(): Promise<void> {
    await this.request('DELETE', '/admin/faults');
  }

  /** The provider forgets every idempotency key (its retention passed); ledger and records stay. */
  async forgetKeys(): Promise<{ forgotten: number }> {
    const { forgotten } = (await this.request('POST', '/admin/forget-keys')) as { forgotten: number };
    return { forgotten };
  }

  async stats(): Promise<StatsSnapshot> {
    return (await this.request('GET', '/admin/stats')) as StatsSnapshot;
  }

  /** The `traceparent` each provider request carried (null: none), the last 2,000, oldest first. */
  async traces(): Promise<ReceivedTrace[]> {
    return (await this.request('GET', '/admin/traces')) as ReceivedTrace[];
  }

  /** Partial sandbox settings, e.g. `{ tokenTtlSeconds: 30 }` (see src/sandbox/config.ts). */
  async config(patch: Record<string, unknown>): Promise<void> {
    await this.request('POST', '/admin/config', patch);
  }

  /** Declares an incident on a provider's status page; resolve it with `updateIncident(..., { status: 'resolved' })`. */
  async declareIncident(
    provider: string,
    incident: { name: string; impact?: 'none' | 'minor' | 'major' | 'critical'; components?: string[] },
  ): Promise<{ id: string }> {
    const { id } = (await this.request(
      'POST',
      `/admin/status/${encodeURIComponent(provider)}/incidents`,
      incident,
    )) as {
      id: string;
    };
    return { id };
  }

  async updateIncident(
    provider: string,
    id: string,
    update: { status: 'investigating' | 'identified' | 'monitoring' | 'resolved'; impact?: string },
  ): Promise<void> {
    await this.request(
      'PATCH',
      `/admin/status/${encodeURIComponent(provider)}/incidents/${encodeURIComponent(id)}`,
      update,
    );
  }

  async clearIncidents(): Promise<void> {
    await this.request('DELETE', '/admin/status/incidents');
  }

  private async request(method: string, path: string, body?: unknown): Promise<unknown> {
    const res = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`sandbox ${method} ${path} answered ${res.status}: ${text}`);
    return text ? (JSON.parse(text) as unknown) : undefined;
  }
}
