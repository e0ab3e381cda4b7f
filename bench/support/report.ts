/** What every benchmark result file carries: the machine, the versions, the load, and figures with their spread. */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';

export const resultsDir = join(__dirname, '..', 'results');

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export const round = (n: number, digits = 2): number => Math.round(n * 10 ** digits) / 10 ** digits;

/** A figure over repetitions: its median and its range. */
export interface Spread {
  median: number;
  min: number;
  max: number;
  values: number[];
}

export function spread(values: number[], digits = 2): Spread {
  return {
    median: round(percentile(values, 50), digits),
    min: round(Math.min(...values), digits),
    max: round(Math.max(...values), digits),
    values: values.map((v) => round(v, digits)),
  };
}

export function formatSpread(s: Spread, unit = ''): string {
  return `${s.median}${unit} (${s.min}-${s.max})`;
}

function packageVersion(name: string): string {
  try {
    return (JSON.parse(readFileSync(require.resolve(`${name}/package.json`), 'utf8')) as { version: string }).version;
  } catch {
    return 'not installed';
  }
}

export interface Machine {
  cpus: number;
  cpuModel: string | undefined;
  memoryGb: number;
  node: string;
  temporalSdk: string;
  bullmq: string;
  undici: string;
  loadAverageAtStart: number[];
}

export function machine(): Machine {
  return {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model,
    memoryGb: round(totalmem() / 1e9, 1),
    node: process.version,
    temporalSdk: packageVersion('@temporalio/worker'),
    bullmq: packageVersion('bullmq'),
    undici: packageVersion('undici'),
    loadAverageAtStart: loadavg().map((l) => round(l)),
  };
}

/** Writes bench/results/<name>.json with the machine, the versions and the load average at start and end. */
export function writeResult(name: string, started: Machine, body: Record<string, unknown>): string {
  mkdirSync(resultsDir, { recursive: true });
  const file = join(resultsDir, `${name}.json`);
  const result = {
    benchmark: name,
    date: new Date().toISOString(),
    machine: started,
    loadAverageAtEnd: loadavg().map((l) => round(l)),
    ...body,
  };
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  return file;
}
