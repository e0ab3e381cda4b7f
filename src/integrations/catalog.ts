import { durationMs } from './kit/duration';
import type { Integration } from './kit/define';
import { integrationTaskQueue } from '../contracts/task-queues';

export interface CatalogEntry {
  name: string;
  version: string;
  purpose: string;
  owner: string;
  /** The provider's support contact and escalation phone; null when the declaration has none. */
  support: { contact: string; escalation: string } | null;
  /** The variable that holds the base URL, and its value in this environment (not a secret). */
  baseUrl: { variable: string; value: string | null };
  auth: string;
  idempotencyHeader: string | null;
  taskQueue: string;
  endpoints: {
    name: string;
    activity: string;
    method: string;
    path: string;
    profile: string;
    idempotency: string;
    budgetMs: number;
    description?: string;
  }[];
}

/** The integration catalog (enterprise seed, "document your integrations"), built from the declarations. */
export function catalog(integrations: Integration[], env: NodeJS.ProcessEnv = process.env): CatalogEntry[] {
  return integrations.map((i) => ({
    name: i.name,
    version: i.version,
    purpose: i.purpose,
    owner: i.owner,
    support: i.support ? { contact: i.support.contact, escalation: i.support.escalation } : null,
    baseUrl: { variable: i.baseUrl.name, value: env[i.baseUrl.name] ?? null },
    auth: i.auth.kind + (i.mtls ? ' + mTLS' : ''),
    idempotencyHeader: i.idempotency?.header ?? null,
    taskQueue: integrationTaskQueue(i.name),
    endpoints: Object.entries(i.endpoints).map(([name, spec]) => ({
      name,
      activity: i.activityName(name),
      method: spec.method,
      path: spec.path,
      profile: spec.profile,
      idempotency: spec.idempotency,
      budgetMs: durationMs(i.profileOf(name).scheduleToClose),
      description: spec.description,
    })),
  }));
}

/** A plain-text table, one row per endpoint, for terminals and runbooks. */
export function catalogTable(entries: CatalogEntry[]): string {
  const rows: string[][] = [
    ['integration', 'owner', 'endpoint (activity)', 'method path', 'profile', 'idempotency', 'budget'],
  ];
  for (const e of entries) {
    for (const ep of e.endpoints) {
      rows.push([
        `${e.name} ${e.version}`,
        e.owner,
        `${ep.name} (${ep.activity})`,
        `${ep.method} ${ep.path}`,
        ep.profile,
        ep.idempotency,
        `${ep.budgetMs / 1000}s`,
      ]);
    }
  }
  const lines = textTable(rows);
  const about = entries.map(
    (e) =>
      `${e.name}: ${e.purpose}. Base URL from ${e.baseUrl.variable}${e.baseUrl.value ? ` (${e.baseUrl.value})` : ' (unset)'}; auth ${e.auth}; queue ${e.taskQueue}; support ${e.support ? `${e.support.contact}, escalation ${e.support.escalation}` : 'not declared'}.`,
  );
  return [...lines, '', ...about].join('\n');
}

/** Rows as aligned columns, the first row a header underlined with dashes; for terminals and runbooks. */
export function textTable(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  const lines = rows.map((r) =>
    r
      .map((cell, c) => cell.padEnd(widths[c]!))
      .join('  ')
      .trimEnd(),
  );
  lines.splice(1, 0, widths.map((w) => '-'.repeat(w)).join('  '));
  return lines;
}
