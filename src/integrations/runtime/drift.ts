import type { CallMetrics } from '../../observability/call-metrics';
import type { Logger } from '../../observability/logger';
import type { Integration } from '../kit/define';
import type { SchemaIssue } from './classify';
import type { DriftSample, DriftSource, FileDriftStore } from './drift-store';
import { redactSample } from './redact';
import type { SecretSource } from './secrets';

export interface DriftRecorderOptions {
  /** Where samples go; none when unset (config `DRIFT_SAMPLES=false`): drift is still counted and logged. */
  store?: FileDriftStore;
  metrics: CallMetrics;
  logger: Logger;
  /** Known secret values, scrubbed from every sample. */
  secrets: SecretSource;
}

/** A 2xx answer that failed its endpoint's response schema. */
export interface SchemaDrift {
  integration: Integration;
  endpoint: string;
  status: number;
  /** The answer as received (parsed JSON). */
  body: unknown;
  issues: SchemaIssue[];
}

/** A dark-launched version's answer that disagreed with the primary's. */
export interface DarkLaunchDrift {
  /** The candidate (dark-launched) integration and endpoint, e.g. crmv2.getCustomer. */
  integration: Integration;
  endpoint: string;
  /** The primary's integration (its PII fields are redacted too) and endpoint. */
  primary: { integration: Integration; endpoint: string; answer: unknown };
  answer: unknown;
  differences: string[];
}

/**
 * Drift: answers that stopped matching what an endpoint declares. Each one is counted
 * (`integration_schema_drift_total`), logged once without values, and kept as a sample, redacted
 * here, before anything is written: the declaration's PII fields and secret-looking keys by name, and
 * emails, card numbers, tokens and known secrets by value, wherever they sit (a drifting answer may
 * have renamed the field its PII was declared by). One write per endpoint at a time: while one is in
 * flight, further drift of that endpoint is counted but not sampled, so a flood costs no I/O storm.
 */
export class DriftRecorder {
  private readonly writing = new Set<string>();

  constructor(private readonly options: DriftRecorderOptions) {}

  /** Counts, logs and samples a schema failure. Never throws: drift must not change the call's verdict. */
  async schema(drift: SchemaDrift): Promise<void> {
    const { integration, endpoint } = drift;
    await this.record(
      'schema',
      integration,
      endpoint,
      () => ({
        integration: integration.name,
        endpoint,
        version: integration.version,
        source: 'schema',
        status: drift.status,
        issues: drift.issues,
        body: redactSample(drift.body, this.redaction([integration], endpoint)),
      }),
      { issues: drift.issues },
    );
  }

  /** Counts, logs and samples a dark launch's disagreement. Never throws. */
  async darkLaunch(drift: DarkLaunchDrift): Promise<void> {
    const { integration, endpoint, primary } = drift;
    const redaction = this.redaction([integration, primary.integration], endpoint, primary.endpoint);
    const differences = drift.differences.slice(0, 20);
    await this.record(
      'dark_launch',
      integration,
      endpoint,
      () => ({
        integration: integration.name,
        endpoint,
        version: integration.version,
        source: 'dark_launch',
        issues: [],
        differences,
        comparedWith: `${primary.integration.name}.${primary.endpoint}`,
        body: redactSample(drift.answer, redaction),
        primary: redactSample(primary.answer, redaction),
      }),
      { differences, comparedWith: `${primary.integration.name}.${primary.endpoint}` },
    );
  }

  private async record(
    source: DriftSource,
    integration: Integration,
    endpoint: string,
    sample: () => Omit<DriftSample, 'id' | 'recordedAt'>,
    fields: Record<string, unknown>,
  ): Promise<void> {
    this.options.metrics.schemaDrift({ integration: integration.name, endpoint, source });
    const key = `${integration.name}.${endpoint}`;
    const store = this.options.store;
    let id: string | undefined;
    let skipped: string | undefined = store ? undefined : 'samples off (DRIFT_SAMPLES=false)';
    if (store && this.writing.has(key)) skipped = 'a sample of this endpoint is being written';
    if (store && !skipped) {
      this.writing.add(key);
      try {
        id = (await store.add(sample())).id;
      } catch (err) {
        skipped = `sample not written: ${(err as NodeJS.ErrnoException).code ?? (err as Error).name}`;
      } finally {
        this.writing.delete(key);
      }
    }
    this.options.logger.warn(
      { integration: integration.name, endpoint, source, version: integration.version, sample: id, skipped, ...fields },
      source === 'schema'
        ? 'schema drift: an answer failed its response schema'
        : 'schema drift: a dark-launched version disagreed with the primary',
    );
  }

  private redaction(integrations: Integration[], ...endpoints: string[]) {
    const pii = integrations.flatMap((i) => [...(i.pii ?? []), ...endpoints.flatMap((e) => i.endpoints[e]?.pii ?? [])]);
    return { pii, secrets: this.options.secrets.knownSecrets() };
  }
}
