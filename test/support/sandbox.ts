import type { StatsSnapshot } from '../../src/sandbox/stats';
import { testEnv } from './temporal';

export interface LedgerEntry {
  effect: string;
  idempotencyKey?: string;
  resourceId?: string;
}

/** The sandbox's admin API, as tests use it. */
export const sandboxAdmin = {
  async ledger(): Promise<LedgerEntry[]> {
    return (await admin('GET', '/admin/ledger')) as LedgerEntry[];
  },
  async fault(rule: {
    method?: string;
    path: string;
    fault: string;
    params?: Record<string, unknown>;
    times?: number;
  }) {
    await admin('POST', '/admin/faults', rule);
  },
  async clearFaults() {
    await admin('DELETE', '/admin/faults');
  },
  async stats(): Promise<StatsSnapshot> {
    return (await admin('GET', '/admin/stats')) as StatsSnapshot;
  },
  /** Partial sandbox settings, e.g. `{ tokenTtlSeconds: 30 }` (see src/sandbox/config.ts). */
  async config(patch: Record<string, unknown>) {
    await admin('POST', '/admin/config', patch);
  },
};

async function admin(method: string, path: string, body?: unknown): Promise<unknown> {
  const res = await fetch(`${testEnv.sandboxUrl}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`sandbox ${method} ${path} answered ${res.status}: ${await res.text()}`);
  const text = await res.text();
  return text ? (JSON.parse(text) as unknown) : undefined;
}
