import { log, metricMeter, upsertMemo } from '@temporalio/workflow';

/**
 * Versioned integrations: dark launch (v2 runs in shadow next to v1, compared, never used, never able to
 * fail the workflow) and canary (a set share of calls goes to v2, chosen deterministically from a
 * business key, so the same customer always gets the same version). Workflow-safe.
 */

/** FNV-1a, 32 bit: a stable, well-spread hash that is the same on every replay and every worker. */
export function bucketOf(key: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    hash ^= key.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % 100;
}

/** `v2` for `percent` % of keys (0 to 100), `v1` otherwise; the same key always gets the same answer. */
export function chooseVersion(key: string, percent: number): 'v1' | 'v2' {
  return bucketOf(key) < percent ? 'v2' : 'v1';
}

interface ShadowRecord {
  matches: number;
  mismatches: number;
  failures: number;
  /** Field paths that differed, last mismatch only. */
  lastDifferences?: string[];
  lastFailure?: string;
}

const records: Record<string, ShadowRecord> = {};
const pending: Promise<void>[] = [];

export interface ShadowOptions<C, T> {
  /** The candidate's answer in the primary's shape, for the comparison. @default the answer as it is */
  compare?: (candidate: C) => T;
  /**
   * Told of each disagreement with the candidate's own answer (drift: e.g. an activity that keeps a
   * redacted sample). Its failure is logged, never thrown into the workflow.
   */
  onMismatch?: (mismatch: { primary: T; candidate: C; differences: string[] }) => Promise<unknown>;
}

/**
 * Starts `candidate` in the shadow of the primary call, at the same moment (so both read the same state),
 * and returns the function to hand the primary's result to once it is known: the two are compared and
 * the outcome recorded (memo `darkLaunch`, a log line, metric `dark_launch_comparisons`, and
 * `onMismatch`). The candidate never throws into the workflow and never delays it: `settleShadows()`
 * waits for the comparisons at the end. If the primary fails, nothing is compared.
 */
export function shadow<C, T = C>(
  name: string,
  candidate: () => Promise<C>,
  options: ShadowOptions<C, T> = {},
): (primary: T) => void {
  const record = (records[name] ??= { matches: 0, mismatches: 0, failures: 0 });
  const counter = metricMeter.createCounter(
    'dark_launch_comparisons',
    'comparisons',
    'shadow calls compared with the primary',
  );
  // Settled, never rejected: an unobserved rejection would fail the workflow task.
  const settled = candidate().then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
  return (primary) => {
    pending.push(
      settled.then(async (outcome) => {
        if (!outcome.ok) {
          const err = outcome.error;
          record.failures++;
          record.lastFailure =
            err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err);
          log.warn('dark launch: candidate failed (ignored)', { name, error: record.lastFailure });
          counter.add(1, { name, outcome: 'failure' });
        } else {
          const compared = options.compare ? options.compare(outcome.value) : (outcome.value as unknown as T);
          const differences = diff(primary, compared);
          if (differences.length === 0) record.matches++;
          else {
            record.mismatches++;
            record.lastDifferences = differences.slice(0, 10);
            log.warn('dark launch: candidate differs from primary', { name, differences: record.lastDifferences });
            await options.onMismatch?.({ primary, candidate: outcome.value, differences }).catch((err: unknown) =>
              log.warn('dark launch: the disagreement could not be recorded (ignored)', {
                name,
                error: err instanceof Error ? err.message : String(err),
              }),
            );
          }
          counter.add(1, { name, outcome: differences.length === 0 ? 'match' : 'mismatch' });
        }
        upsertMemo({ darkLaunch: { ...records } });
      }),
    );
  };
}

/** Waits for every shadow comparison started so far (they never throw). */
export async function settleShadows(): Promise<void> {
  await Promise.all(pending.splice(0));
}

/** The paths at which two JSON values differ (`a.b[2].c`); empty when equal. */
export function diff(a: unknown, b: unknown, path = ''): string[] {
  if (Object.is(a, b)) return [];
  if (
    typeof a !== 'object' ||
    typeof b !== 'object' ||
    a === null ||
    b === null ||
    Array.isArray(a) !== Array.isArray(b)
  ) {
    return [path || '(root)'];
  }
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...keys].flatMap((k) =>
    diff(
      (a as Record<string, unknown>)[k],
      (b as Record<string, unknown>)[k],
      Array.isArray(a) ? `${path}[${k}]` : path ? `${path}.${k}` : k,
    ),
  );
}
