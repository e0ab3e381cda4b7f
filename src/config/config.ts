import type { Duration } from '@temporalio/common';
import { z } from 'zod';
import { fileDropIntegrations, integrations } from '../integrations';
import type { IntegrationRegistry } from '../integrations/kit/define';
import type { FileDropRegistry } from '../integrations/kit/file-drop';
import { durationMs } from '../integrations/kit/duration';
import { integrationConfigShape, integrationVariables } from '../integrations/variables';

/**
 * Every environment variable this project reads, validated in one place: the project's own below, and
 * the integrations' ones (base URLs, credentials and their `_FILE` forms) derived from the registry
 * (src/integrations/index.ts, src/integrations/variables.ts), so a provider's variables are declared in
 * its own folder. A bad value fails at start-up with the variable's name and what to do, never later in a call.
 */
const port = z.coerce.number().int().min(0).max(65535);

/** The project's own variables (not an integration's). */
export const configSchema = z.object({
  /** `development` allows plain HTTP to loopback providers; anything else demands HTTPS. @default development */
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  /**
   * Hosts integrations may reach over plain HTTP (comma-separated), e.g. the sandbox inside
   * docker-compose's network. Leave empty in production: everything else must be HTTPS.
   */
  ALLOW_HTTP_HOSTS: z.string().optional(),
  /** pino level. @default info */
  LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
  /**
   * host:port of an existing Temporal frontend. When unset, `npm start` runs the embedded dev server
   * and every process it starts receives that server's address here.
   */
  TEMPORAL_ADDRESS: z
    .string()
    .regex(/^[\w.-]+:\d+$/, 'expected host:port, e.g. 127.0.0.1:7233')
    .optional(),
  /** @default default */
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  /** Port of the embedded dev server's gRPC frontend. @default 7233 */
  TEMPORAL_DEV_PORT: port.default(7233),
  /** Port of the embedded dev server's Web UI. @default 8233 */
  TEMPORAL_UI_PORT: port.default(8233),
  /** Path to a `temporal` CLI binary; skips every other way of finding one. */
  TEMPORAL_CLI_PATH: z.string().min(1).optional(),
  // --- How every process connects to Temporal (src/temporal/connection.ts): TLS, mTLS, API key ---
  /**
   * `true`: connect over TLS, checking the server against the system's roots (Temporal Cloud) or
   * TEMPORAL_TLS_CA_FILE. Implied by any TEMPORAL_TLS_*_FILE or an API key; `false` forbids it. @default false
   */
  TEMPORAL_TLS: z.enum(['true', 'false']).optional(),
  /** CA certificate (PEM file) the frontend's certificate is checked against (a self-hosted cluster's CA). */
  TEMPORAL_TLS_CA_FILE: z.string().min(1).optional(),
  /** Name the frontend's certificate must carry when it is not TEMPORAL_ADDRESS's host (also sent as SNI). */
  TEMPORAL_TLS_SERVER_NAME: z.string().min(1).optional(),
  /** Client certificate (PEM file) for mTLS, with TEMPORAL_TLS_KEY_FILE; re-read at each (re)connect, so a rotation needs no rebuild. */
  TEMPORAL_TLS_CERT_FILE: z.string().min(1).optional(),
  /** Private key (PEM file) of that client certificate. Secret: never logged. */
  TEMPORAL_TLS_KEY_FILE: z.string().min(1).optional(),
  /** API key (Temporal Cloud), sent as `Authorization: Bearer`; implies TLS. Secret: never logged. */
  TEMPORAL_API_KEY: z.string().min(1).optional(),
  /** A mounted file with the API key; re-read when it changes, no restart needed. Wins over the variable. */
  TEMPORAL_API_KEY_FILE: z.string().min(1).optional(),
  /**
   * The namespace retention must be at least this: the longest a provider may redeliver a webhook (and keep
   * an idempotency key), since a closed workflow's ID deduplicates only while Temporal remembers it. Checked
   * at start-up by workers and the receiver (src/temporal/namespace-checks.ts). @default 1 day
   */
  TEMPORAL_MIN_RETENTION: z
    .string()
    .min(1)
    .refine((v) => {
      try {
        return durationMs(v as Duration) > 0;
      } catch {
        return false;
      }
    }, "expected a duration, e.g. '3 days' or '36 hours'")
    .default('1 day'),
  /** `false` skips the start-up checks of the namespace (search attributes, retention). @default true */
  TEMPORAL_STARTUP_CHECKS: z.enum(['true', 'false']).default('true'),
  /** Binaries of the local cluster (`npm run cluster`, src/cluster/binaries.ts); otherwise PATH, the cache, then `go install`. */
  TEMPORAL_SERVER_PATH: z.string().min(1).optional(),
  TEMPORAL_SQL_TOOL_PATH: z.string().min(1).optional(),
  TEMPORAL_UI_SERVER_PATH: z.string().min(1).optional(),
  /** Where the dev server keeps its SQLite file (so a restart keeps histories). @default .data */
  DATA_DIR: z.string().min(1).default('.data'),
  /** Port the provider sandbox listens on; 0 picks a free one. @default 0 */
  SANDBOX_PORT: port.default(0),
  /** Share of orders (0-100, by customer id) whose CRM reads go to API v2 for real (canary). @default 0 */
  CRM_V2_CANARY_PERCENT: z.coerce.number().min(0).max(100).default(0),
  /** Run CRM API v2 in shadow next to v1 and record the differences (dark launch). @default true */
  CRM_V2_DARK_LAUNCH: z.enum(['true', 'false']).default('true'),
  /** The sandbox's own copies of the provider credentials; random per start when unset. */
  SANDBOX_PAYMENTS_CLIENT_ID: z.string().min(1).optional(),
  SANDBOX_PAYMENTS_CLIENT_SECRET: z.string().min(1).optional(),
  SANDBOX_DOCUMENTS_API_KEY: z.string().min(1).optional(),
  SANDBOX_EMAIL_API_KEY: z.string().min(1).optional(),
  SANDBOX_CRM_API_KEY: z.string().min(1).optional(),
  SANDBOX_INVENTORY_API_KEY: z.string().min(1).optional(),
  SANDBOX_WEBHOOK_SECRET: z.string().min(1).optional(),
  /** When set, the sandbox also serves an mTLS port and writes its throwaway CA and certificates here. */
  SANDBOX_MTLS_DIR: z.string().min(1).optional(),
  /** Where the sandbox POSTs its signed webhooks (the receiver). */
  SANDBOX_WEBHOOK_TARGET: z.url().optional(),
  /**
   * Interface of every process's operations port (`/livez`, `/readyz`), kept apart from the public ports.
   * `0.0.0.0` in a container, so the orchestrator's probes reach it. @default 127.0.0.1
   */
  OPS_HOST: z.string().min(1).default('127.0.0.1'),
  /** Operations port of a worker (`/livez`; `/readyz`: polling and Temporal reachable); 0 picks a free one. @default 0 */
  WORKER_OPS_PORT: port.default(0),
  /** Operations port of the webhook receiver (`/livez`, `/readyz`, its statistics); 0 picks a free one. @default 0 */
  WEBHOOK_OPS_PORT: port.default(0),
  /** Operations port of the codec server (`/livez`, `/readyz`); 0 picks a free one. @default 0 */
  CODEC_OPS_PORT: port.default(0),
  /** Interface the webhook receiver listens on (`0.0.0.0` in a container). @default 127.0.0.1 */
  WEBHOOK_HOST: z.string().min(1).default('127.0.0.1'),
  /** Port of the webhook receiver; 0 picks a free one (announced in its ready line). @default 0 */
  WEBHOOK_PORT: port.default(0),
  /**
   * Secrets of the documents provider's webhooks, comma-separated (several during a rotation: any one
   * verifies). `whsec_<base64>` is decoded, anything else used as is. Secret: never logged.
   */
  WEBHOOK_DOCUMENTS_SECRETS: z.string().min(1).optional(),
  /** A mounted file with those secrets (one per line or comma-separated); re-read when it changes. Wins over the variable. */
  WEBHOOK_DOCUMENTS_SECRETS_FILE: z.string().min(1).optional(),
  /** Bodies larger than this get 413. @default 65536 bytes */
  WEBHOOK_MAX_BODY_BYTES: z.coerce.number().int().min(1024).max(10_485_760).default(65_536),
  /** A client must send its headers within this time. @default 5000 ms */
  WEBHOOK_HEADERS_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(5_000),
  /** A client must send its whole request within this time. @default 10000 ms */
  WEBHOOK_REQUEST_TIMEOUT_MS: z.coerce.number().int().min(100).max(300_000).default(10_000),
  /** Accepted skew of `webhook-timestamp`, both directions. @default 300 seconds */
  WEBHOOK_TOLERANCE_SECONDS: z.coerce.number().int().min(1).max(3600).default(300),
  /**
   * Where the receiver stores a verified event before acknowledging it, relayed into Temporal by the receiver:
   * `postgres://` (table `webhook_outbox`, created when missing, durable at the 2xx: src/webhooks/outbox.ts) or
   * `redis://` / `rediss://` (a BullMQ queue under `WEBHOOK_OUTBOX_PREFIX`, as durable as Redis's persistence:
   * src/webhooks/redis-outbox.ts); unset, each start is in the request. It may carry a password: never logged.
   * @default unset
   */
  WEBHOOK_OUTBOX_URL: z
    .string()
    .regex(
      /^(postgres(ql)?|rediss?):\/\//,
      'expected a postgres:// or redis:// URL, e.g. postgres://user@host:5432/db or redis://127.0.0.1:6379',
    )
    .optional(),
  /** Key prefix of the Redis outbox's queue (a `redis://` `WEBHOOK_OUTBOX_URL`). @default di-webhooks */
  WEBHOOK_OUTBOX_PREFIX: z
    .string()
    .regex(/^[\w.-]{1,64}$/, 'letters, digits, _ . - only')
    .default('di-webhooks'),
  /**
   * Redis outbox: longest time the relay holds an event, from its enqueue, while this receiver is busy
   * acknowledging (its Temporal starts yield to the acknowledgements, src/webhooks/relay-pacer.ts); 0: start
   * each at once. @default 1000 ms
   */
  WEBHOOK_OUTBOX_RELAY_MAX_DEFER_MS: z.coerce.number().int().min(0).max(60_000).default(1_000),
  /** Budget to start the workflow (connecting included) before answering 503; keep it under the sender's timeout. @default 3000 ms */
  WEBHOOK_START_TIMEOUT_MS: z.coerce.number().int().min(100).max(30_000).default(3_000),
  /** `Retry-After` sent with a 503. @default 5 seconds */
  WEBHOOK_RETRY_AFTER_SECONDS: z.coerce.number().int().min(1).max(3600).default(5),
  /** An idle keep-alive connection to the receiver is closed after this. @default 5000 ms */
  WEBHOOK_KEEPALIVE_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(5_000),
  /** Request heads larger than this get 431. @default 16384 bytes */
  WEBHOOK_MAX_HEADER_BYTES: z.coerce.number().int().min(1024).max(65_536).default(16_384),
  /** Open connections the receiver keeps at most; further ones are dropped. @default 1024 */
  WEBHOOK_MAX_CONNECTIONS: z.coerce.number().int().min(1).max(100_000).default(1_024),
  /**
   * Proxies (IPs or CIDRs, comma-separated) in front of the receiver whose `X-Forwarded-For` is believed
   * for the allow-lists; any other peer's `X-Forwarded-For` is ignored. @default none
   */
  WEBHOOK_TRUSTED_PROXIES: z.string().optional(),
  /**
   * `true` refuses documents deliveries that carry only `x-turbodocx-signature` (which does not sign the
   * timestamp, so a captured delivery could be replayed with a fresh one): Standard Webhooks is required.
   * @default true
   */
  WEBHOOK_DOCUMENTS_REQUIRE_SIGNED_TIMESTAMP: z.enum(['true', 'false']).default('true'),
  /** Addresses (IPs or CIDRs, comma-separated) the documents provider delivers from; others get 403. @default any */
  WEBHOOK_DOCUMENTS_ALLOW_FROM: z.string().optional(),
  /**
   * Payload encryption keys (AES-256-GCM), `id:base64key` pairs, comma-separated; the first encrypts, every
   * one decrypts (rotation: put the new key first, keep the old ones while histories need them). Unset: no
   * encryption. Checked at start-up by `src/codec` (never here: a bad value would be echoed). Secret: never logged.
   */
  PAYLOAD_ENCRYPTION_KEYS: z.string().min(1).optional(),
  /** A mounted file with those keys (same format, one per line or comma-separated). Wins over the variable. */
  PAYLOAD_ENCRYPTION_KEYS_FILE: z.string().min(1).optional(),
  /** Interface the codec server (decodes payloads for the Web UI) listens on. Keep it loopback or behind auth. @default 127.0.0.1 */
  CODEC_HOST: z.string().min(1).default('127.0.0.1'),
  /** Port of the codec server; 0 picks a free one (announced in its ready line). @default 0 */
  CODEC_PORT: port.default(0),
  /** Origins (the Web UI's) allowed to call the codec server from a browser, comma-separated. @default http://127.0.0.1:8233,http://localhost:8233 */
  CODEC_CORS_ORIGINS: z.string().min(1).default('http://127.0.0.1:8233,http://localhost:8233'),
  /** Codec server requests larger than this get 413. @default 4194304 bytes */
  CODEC_MAX_BODY_BYTES: z.coerce.number().int().min(1024).max(67_108_864).default(4_194_304),
  /** A client must send its headers to the codec server within this time. @default 5000 ms */
  CODEC_HEADERS_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(5_000),
  /** A client must send its whole request to the codec server within this time. @default 30000 ms */
  CODEC_REQUEST_TIMEOUT_MS: z.coerce.number().int().min(100).max(300_000).default(30_000),
  /**
   * JWKS of the identity provider that signs the users' access tokens (https URL). Set: every request
   * needs `Authorization: Bearer <JWT>` (401 otherwise) and a role allowed for it (403). Unset: no auth,
   * and the codec server refuses to listen beyond loopback. @default unset
   */
  CODEC_AUTH_JWKS_URL: z.url().optional(),
  /** `iss` the tokens must carry (required with CODEC_AUTH_JWKS_URL). */
  CODEC_AUTH_ISSUER: z.string().min(1).optional(),
  /** `aud` the tokens must carry (required with CODEC_AUTH_JWKS_URL). */
  CODEC_AUTH_AUDIENCE: z.string().min(1).optional(),
  /** Claim holding the caller's roles (a string or a list; a dotted path such as `realm_access.roles`). @default roles */
  CODEC_AUTH_ROLES_CLAIM: z.string().min(1).default('roles'),
  /**
   * What each role may do, JSON: `{"<role>": {"decode": ["<namespace>" | "*"], "encode": [...]}}`, e.g.
   * `{"operator":{"decode":["default"]},"admin":{"decode":["*"],"encode":["*"]}}`. A role not listed may do
   * nothing. Required with CODEC_AUTH_JWKS_URL.
   */
  CODEC_AUTH_ROLES: z.string().min(1).optional(),
  // --- The status page (`npm run status`, src/status/) ---
  /** Interface the status page listens on. Beyond loopback its resolve action needs STATUS_TOKEN. @default 127.0.0.1 */
  STATUS_HOST: z.string().min(1).default('127.0.0.1'),
  /** Port of the status page; 0 picks a free one (announced in its ready line). @default 0 */
  STATUS_PORT: port.default(0),
  /** Token the status page's actions require when it listens beyond loopback (form field or Bearer). Secret: never logged. */
  STATUS_TOKEN: z.string().min(16, 'at least 16 characters, e.g. `openssl rand -hex 16`').optional(),
  /** A mounted file with that token. Wins over the variable. */
  STATUS_TOKEN_FILE: z.string().min(1).optional(),
  /** The Temporal Web UI the status page links into. @default http://127.0.0.1:<TEMPORAL_UI_PORT> (the dev server's) */
  TEMPORAL_UI_URL: z.url().optional(),
  /** Share of failing requests (5 minutes) above which an integration shows as degraded. @default 0.2 */
  STATUS_ERROR_RATE_THRESHOLD: z.coerce.number().gt(0).lt(1).default(0.2),
  /**
   * Redis for the fallback cache of user-flow reads (`redis://[:password@]host:port[/db]`, `rediss://` for
   * TLS), shared by every worker. Unset: each worker keeps its own in-memory cache. May hold a password:
   * never logged, and checked by the worker (src/integrations/runtime/fallback-cache.ts), never here: a bad
   * value would be echoed. The cached answers (customer records...) are stored in it: protect it like the data.
   */
  FALLBACK_REDIS_URL: z.string().min(1).optional(),
  /**
   * PostgreSQL database of the local store (background syncs write provider data there; user flows
   * read it). `?options=-c%20search_path%3D<schema>` picks a schema. May carry a password: never logged,
   * and checked by the worker (src/activities/crm-sync.activities.ts), never here: a bad value would be echoed.
   * @default postgres://postgres@127.0.0.1:5432/postgres
   */
  LOCAL_STORE_URL: z.string().min(1).default('postgres://postgres@127.0.0.1:5432/postgres'),
  /**
   * `false`: drifting answers (a 2xx failing its endpoint's schema, a dark launch's disagreement) are still
   * counted (`integration_schema_drift_total`) and logged, but no sample is kept. @default true
   */
  DRIFT_SAMPLES: z.enum(['true', 'false']).default('true'),
  /** Where workers keep drift samples, redacted (`npm run drift` reads them). @default .data/drift-samples */
  DRIFT_SAMPLES_DIR: z.string().min(1).default('.data/drift-samples'),
  /** Samples kept per integration and endpoint, the newest; older ones are deleted. @default 20 */
  DRIFT_SAMPLES_PER_ENDPOINT: z.coerce
    .number()
    .int('expected a whole number of samples, e.g. 20')
    .min(1, 'at least 1 (turn samples off with DRIFT_SAMPLES=false)')
    .max(1000, 'at most 1000: samples are for reading, not for archiving')
    .default(20),
  /**
   * Workflows a worker keeps in its cache (sticky execution); beyond it the least recently used are evicted
   * and replayed from their history on their next task. Unset: the worker's bound,
   * `DEFAULT_MAX_CACHED_WORKFLOWS` in src/workers/worker.ts (why that number: the README's "Performance").
   */
  WORKER_MAX_CACHED_WORKFLOWS: z.coerce
    .number()
    .int('expected a whole number of workflows, e.g. 250')
    .min(1, 'at least 1: a worker with no cache replays every workflow on every task')
    .optional(),
  /**
   * Base URL of the Prometheus that scrapes the workers, e.g. `http://prometheus:9090`: the 4xx report
   * reads its counts there (src/activities/report.activities.ts) and the status page its error rates.
   * Unset: reports say no metrics source is configured, and the status page's error rate is unknown.
   */
  PROMETHEUS_URL: z
    .url({ protocol: /^https?$/, error: 'expected an http(s) URL, e.g. http://127.0.0.1:9090' })
    .optional(),
  /**
   * `false`: the worker does not create or update the 4xx report's Schedules at start (`npm run schedules`
   * still does). @default true
   */
  REPORT_SCHEDULES: z.enum(['true', 'false']).default('true'),
  // --- Tracing (src/observability/tracing.ts): OpenTelemetry through Temporal's interceptors ---
  /**
   * Where spans go: `otlp` (OTLP over HTTP, JSON, to OTEL_EXPORTER_OTLP_ENDPOINT), `console` (stdout), or
   * `none`: no span is made, no interceptor installed, nothing of OpenTelemetry in the workflow bundle. @default none
   */
  TRACING_EXPORTER: z
    .enum(['otlp', 'console', 'none'], { error: 'expected otlp, console or none (none turns tracing off)' })
    .default('none'),
  /** Base URL of the OTLP/HTTP collector; spans are posted to `<url>/v1/traces`. @default http://localhost:4318 */
  OTEL_EXPORTER_OTLP_ENDPOINT: z
    .url({
      protocol: /^https?$/,
      error: 'expected the http(s) base URL of an OTLP/HTTP collector, e.g. http://localhost:4318',
    })
    .default('http://localhost:4318'),
  /** `service.name` of the spans; each process names itself when unset (durable-integrations-worker, -webhooks). */
  OTEL_SERVICE_NAME: z.string().min(1).optional(),
});

/**
 * The project's own configuration, typed. The integrations' variables are validated with it by
 * {@link loadConfig} but read through their references at call time (src/integrations/runtime/secrets.ts).
 */
export type Config = z.infer<typeof configSchema>;

/** The integrations' variables, derived from a registry; none may shadow one of the project's. */
export function integrationConfigSchema(
  registry: IntegrationRegistry = integrations,
  fileDrops: FileDropRegistry = fileDropIntegrations,
) {
  const shape = integrationConfigShape(integrationVariables(registry, fileDrops));
  const shadowing = Object.keys(shape).filter((name) => name in configSchema.shape);
  if (shadowing.length > 0)
    throw new Error(`integration variables ${shadowing.join(', ')} are already variables of the project`);
  return z.object(shape);
}

/** Every variable the config module reads with a registry: the project's, then the integrations'. */
export function configVariablesOf(registry: IntegrationRegistry = integrations): string[] {
  return [...Object.keys(configSchema.shape), ...Object.keys(integrationConfigSchema(registry).shape)];
}

/** The names of every variable the config module reads (docker-compose.yml is checked against it). */
export const configVariables: readonly string[] = configVariablesOf(integrations);

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/**
 * Reads and validates the environment, the project's variables and the registry's integrations' ones;
 * throws a {@link ConfigError} naming each bad variable.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, registry: IntegrationRegistry = integrations): Config {
  const integrationSchema = integrationConfigSchema(registry);
  // Empty strings mean "unset" so that `FOO=` in an .env file falls back to the default.
  const names = [...Object.keys(configSchema.shape), ...Object.keys(integrationSchema.shape)];
  const raw = Object.fromEntries(names.map((k) => [k, env[k] === '' ? undefined : env[k]]));
  const parsed = configSchema.safeParse(raw);
  const integrationsParsed = integrationSchema.safeParse(raw);
  if (parsed.success && integrationsParsed.success) return parsed.data;
  const issues = [...(parsed.error?.issues ?? []), ...(integrationsParsed.error?.issues ?? [])];
  const lines = issues.map((issue) => {
    const name = issue.path.join('.');
    return `  ${name}=${JSON.stringify(env[name] ?? '')}: ${issue.message}`;
  });
  throw new ConfigError(
    `Invalid configuration:\n${lines.join('\n')}\nFix these environment variables (see .env.example) and start again.`,
  );
}
