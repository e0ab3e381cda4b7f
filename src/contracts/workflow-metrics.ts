/**
 * Metrics that workflow code records through its metric meter and the worker's Core exporter serves: the
 * name is shared by both sides (the exporter's bucket overrides are keyed by it, src/workers/runtime.ts).
 */

/**
 * A workflow step end to end (`runStep`, src/workflows/patterns/steps.ts): from its first schedule to its
 * settlement, retries, lookups, resends and their durable timers included; labels `integration`,
 * `endpoint`, `outcome` (`ok`, `failed`, `parked`, `cancelled`).
 */
export const STEP_DURATION_METRIC = 'integration_step_duration_seconds';

/**
 * Seconds: a user flow settles in a few, background work in minutes to hours (budgets run to a day), so
 * the buckets span 50 ms to a day. Core's default buckets for a custom histogram are not made for either.
 */
export const STEP_DURATION_BUCKETS = [
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
  30,
  60,
  300,
  900,
  1800,
  3600,
  4 * 3600,
  12 * 3600,
  24 * 3600,
];
