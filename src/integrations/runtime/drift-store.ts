import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { SchemaIssue } from './classify';

/**
 * Where drift samples are kept: real provider answers that failed their endpoint's schema, or a
 * dark-launched version's answer that disagreed with the primary's, redacted before they get here
 * (./drift.ts). `npm run drift` lists them and turns them into test fixtures.
 *
 * A directory, not Redis: the samples are meant to end up as files in the repository (fixtures), an
 * operator reads them with `ls` and `cat`, and it costs no new service. Workers on one host (npm start)
 * or sharing a volume (docker-compose) share it. Bounded: at most `perEndpoint` samples per integration
 * and endpoint, the newest kept (each write prunes the oldest), so the whole store is at most
 * endpoints x perEndpoint files whatever the traffic.
 */

export type DriftSource = 'schema' | 'dark_launch';

export interface DriftSample {
  /** File name without `.json`: sortable by time. */
  id: string;
  integration: string;
  endpoint: string;
  /** The declaration's version (`IntegrationSpec.version`) the answer was judged by. */
  version: string;
  source: DriftSource;
  /** ISO 8601. */
  recordedAt: string;
  /** HTTP status of the answer (schema drift). */
  status?: number;
  /** Where the answer failed the schema: zod issue paths and codes, never values. */
  issues: SchemaIssue[];
  /** Dark launch: the paths at which the candidate's answer differed from the primary's. */
  differences?: string[];
  /** Dark launch: the primary it was compared with, e.g. `crm.getCustomer`. */
  comparedWith?: string;
  /** The answer, redacted. */
  body: unknown;
  /** Dark launch: the primary's answer, redacted. */
  primary?: unknown;
}

export type NewDriftSample = Omit<DriftSample, 'id' | 'recordedAt'>;

export interface DriftStoreOptions {
  /** The directory (config `DRIFT_SAMPLES_DIR`); created when missing. */
  dir: string;
  /** Samples kept per integration and endpoint, newest first (config `DRIFT_SAMPLES_PER_ENDPOINT`). @default 20 */
  perEndpoint?: number;
  /** @default Date.now */
  now?: () => number;
}

const safeName = /^[A-Za-z0-9_-]{1,64}$/;

export class FileDriftStore {
  readonly dir: string;
  private readonly perEndpoint: number;
  private readonly now: () => number;

  constructor(options: DriftStoreOptions) {
    this.dir = options.dir;
    this.perEndpoint = options.perEndpoint ?? 20;
    this.now = options.now ?? Date.now;
    if (!Number.isInteger(this.perEndpoint) || this.perEndpoint < 1)
      throw new RangeError('perEndpoint: expected an integer of at least 1');
  }

  /** Writes one (already redacted) sample atomically, then prunes its endpoint to the newest `perEndpoint`. */
  async add(sample: NewDriftSample): Promise<DriftSample> {
    if (!safeName.test(sample.integration) || !safeName.test(sample.endpoint))
      throw new Error(`drift sample: unusable integration or endpoint name ${sample.integration}.${sample.endpoint}`);
    const at = new Date(this.now());
    const id = `${at.toISOString().replace(/[-:.]/g, '')}-${sample.source}-${randomBytes(4).toString('hex')}`;
    const stored: DriftSample = { id, recordedAt: at.toISOString(), ...sample };
    const dir = join(this.dir, sample.integration, sample.endpoint);
    await mkdir(dir, { recursive: true });
    const temp = join(dir, `.${id}.tmp`);
    await writeFile(temp, `${JSON.stringify(stored, null, 2)}\n`, { mode: 0o600 });
    await rename(temp, join(dir, `${id}.json`)); // readers never see half a sample
    await this.prune(dir);
    return stored;
  }

  /** Every sample, oldest first, optionally of one integration. Unreadable files are skipped. */
  async list(filter: { integration?: string } = {}): Promise<DriftSample[]> {
    const samples: DriftSample[] = [];
    for (const integration of await names(this.dir)) {
      if (filter.integration && integration !== filter.integration) continue;
      for (const endpoint of await names(join(this.dir, integration))) {
        const dir = join(this.dir, integration, endpoint);
        for (const file of (await names(dir)).filter((f) => f.endsWith('.json')).sort()) {
          try {
            samples.push(JSON.parse(await readFile(join(dir, file), 'utf8')) as DriftSample);
          } catch {
            // pruned meanwhile, or not a sample: not ours to judge
          }
        }
      }
    }
    return samples;
  }

  private async prune(dir: string): Promise<void> {
    const files = (await names(dir)).filter((f) => f.endsWith('.json')).sort();
    // Several workers may write at once: each prunes, so the directory converges to the cap.
    for (const file of files.slice(0, Math.max(0, files.length - this.perEndpoint)))
      await unlink(join(dir, file)).catch(() => undefined);
  }
}

async function names(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).filter((n) => !n.startsWith('.'));
  } catch {
    return [];
  }
}
