import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { IntegrationRegistry } from '../integrations/kit/define';
import { schemaIssuesOf, type SchemaIssue } from '../integrations/runtime/classify';
import type { DriftSample, DriftSource } from '../integrations/runtime/drift-store';

/**
 * Drift samples turned into test fixtures (`npm run drift -- fixtures`), and what
 * test/unit/drift-fixtures.test.ts replays: every fixture's answer against its endpoint's current
 * response schema, expected to pass or to fail as the fixture says. A schema change is then checked
 * against real (redacted) answers: one that now accepts a drifted shape, or rejects one it accepted,
 * makes the test say so and what to run.
 */

/** Where fixtures go, relative to the repository. */
export const FIXTURES_DIR = join('test', 'fixtures', 'drift');

export interface DriftFixture {
  integration: string;
  endpoint: string;
  /** The declaration's version when the answer was recorded. */
  version: string;
  source: DriftSource;
  recordedAt: string;
  /** The drift sample it was made from. */
  sample: string;
  /** What the current schema does with `body`, as of the last `fixtures` (or `fixtures --accept`) run. */
  expect: 'pass' | 'fail';
  /** When `expect` is `fail`: the issues (paths and codes) the schema finds. */
  issues: SchemaIssue[];
  differences?: string[];
  comparedWith?: string;
  /** The provider's answer, redacted before it was ever stored. */
  body: unknown;
}

export type Judgement = { known: false; why: string } | { known: true; pass: boolean; issues: SchemaIssue[] };

/** The endpoint's current response schema applied to a body. */
export function judge(registry: IntegrationRegistry, integration: string, endpoint: string, body: unknown): Judgement {
  const spec = registry[integration]?.endpoints[endpoint];
  if (!spec) return { known: false, why: `no endpoint ${integration}.${endpoint} is declared any more` };
  const parsed = spec.response.safeParse(body);
  return parsed.success
    ? { known: true, pass: true, issues: [] }
    : { known: true, pass: false, issues: schemaIssuesOf(parsed.error) };
}

/** `<dir>/<integration>/<endpoint>/<sample>.json` */
export function fixturePath(dir: string, f: { integration: string; endpoint: string; sample: string }): string {
  return join(dir, f.integration, f.endpoint, `${f.sample}.json`);
}

export interface FixturesResult {
  /** Fixtures written from new samples. */
  written: string[];
  /** Existing fixtures re-judged and rewritten (`accept`). */
  accepted: string[];
  /** Samples already made into fixtures, left as they are. */
  unchanged: string[];
  /** Samples or fixtures that could not be judged, and why. */
  skipped: string[];
}

export interface FixturesOptions {
  registry: IntegrationRegistry;
  /** @default test/fixtures/drift */
  dir?: string;
  integration?: string;
  /**
   * Re-judge the existing fixtures too and record the current schema's verdict (`expect`, `issues`):
   * after a schema change accepted a drifted shape on purpose.
   */
  accept?: boolean;
}

/** Writes a fixture for every sample that has none yet; with `accept`, re-judges the existing ones. */
export function writeFixtures(samples: readonly DriftSample[], options: FixturesOptions): FixturesResult {
  const dir = options.dir ?? FIXTURES_DIR;
  const result: FixturesResult = { written: [], accepted: [], unchanged: [], skipped: [] };
  const existing = new Set(loadFixtures(dir).map(({ file }) => file));
  for (const sample of samples) {
    if (options.integration && sample.integration !== options.integration) continue;
    const file = fixturePath(dir, { ...sample, sample: sample.id });
    if (existing.has(file)) {
      result.unchanged.push(file);
      continue;
    }
    const verdict = judge(options.registry, sample.integration, sample.endpoint, sample.body);
    if (!verdict.known) {
      result.skipped.push(`${sample.id}: ${verdict.why}`);
      continue;
    }
    save(file, {
      integration: sample.integration,
      endpoint: sample.endpoint,
      version: sample.version,
      source: sample.source,
      recordedAt: sample.recordedAt,
      sample: sample.id,
      expect: verdict.pass ? 'pass' : 'fail',
      issues: verdict.issues,
      ...(sample.differences ? { differences: sample.differences } : {}),
      ...(sample.comparedWith ? { comparedWith: sample.comparedWith } : {}),
      body: sample.body,
    });
    result.written.push(file);
  }
  if (!options.accept) return result;
  for (const { file, fixture } of loadFixtures(dir)) {
    if (options.integration && fixture.integration !== options.integration) continue;
    if (result.written.includes(file)) continue;
    const verdict = judge(options.registry, fixture.integration, fixture.endpoint, fixture.body);
    if (!verdict.known) {
      result.skipped.push(`${file}: ${verdict.why}`);
      continue;
    }
    save(file, { ...fixture, expect: verdict.pass ? 'pass' : 'fail', issues: verdict.issues });
    result.accepted.push(file);
  }
  return result;
}

/** Every fixture under `dir`, by file. */
export function loadFixtures(dir: string = FIXTURES_DIR): { file: string; fixture: DriftFixture }[] {
  const found: { file: string; fixture: DriftFixture }[] = [];
  for (const integration of entries(dir))
    for (const endpoint of entries(join(dir, integration)))
      for (const name of entries(join(dir, integration, endpoint))
        .filter((n) => n.endsWith('.json'))
        .sort()) {
        const file = join(dir, integration, endpoint, name);
        found.push({ file, fixture: JSON.parse(readFileSync(file, 'utf8')) as DriftFixture });
      }
  return found;
}

/** Per integration, endpoint and source: how many samples, the newest, and the fields that drifted. */
export function summarize(samples: readonly DriftSample[]): {
  integration: string;
  endpoint: string;
  source: DriftSource;
  samples: number;
  newest: string;
  paths: string[];
}[] {
  const rows = new Map<string, ReturnType<typeof summarize>[number]>();
  for (const s of samples) {
    const key = `${s.integration}\0${s.endpoint}\0${s.source}`;
    const row = rows.get(key) ?? {
      integration: s.integration,
      endpoint: s.endpoint,
      source: s.source,
      samples: 0,
      newest: '',
      paths: [],
    };
    row.samples += 1;
    if (s.recordedAt > row.newest) row.newest = s.recordedAt;
    for (const path of [...s.issues.map((i) => `${i.path} (${i.code})`), ...(s.differences ?? [])])
      if (!row.paths.includes(path)) row.paths.push(path);
    rows.set(key, row);
  }
  return [...rows.values()].sort((a, b) =>
    `${a.integration}.${a.endpoint}`.localeCompare(`${b.integration}.${b.endpoint}`),
  );
}

function save(file: string, fixture: DriftFixture): void {
  mkdirSync(join(file, '..'), { recursive: true });
  writeFileSync(file, `${JSON.stringify(fixture, null, 2)}\n`);
}

function entries(dir: string): string[] {
  try {
    return readdirSync(dir).filter((n) => !n.startsWith('.'));
  } catch {
    return [];
  }
}
