import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client as PgClient } from 'pg';
import { findGo, goModuleDir } from '../devserver/go';
import { TEMPORAL_SERVER_MODULE, TEMPORAL_SERVER_VERSION } from './versions';

const execFileAsync = promisify(execFile);

/** Where the cluster's PostgreSQL is and who connects. */
export interface PostgresTarget {
  host: string;
  port: number;
  user: string;
  password?: string;
}

/** `postgres://user[:password]@host[:port]` (a path, if any, is ignored: the databases are named separately). */
export function parsePostgresUrl(url: string): PostgresTarget {
  const u = new URL(url);
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:')
    throw new Error(`expected a postgres:// URL, got ${u.protocol}`);
  return {
    host: u.hostname || '127.0.0.1',
    port: Number(u.port || 5432),
    user: decodeURIComponent(u.username || 'postgres'),
    password: u.password ? decodeURIComponent(u.password) : undefined,
  };
}

export const DEFAULT_POSTGRES: PostgresTarget = { host: '127.0.0.1', port: 5432, user: 'postgres' };

/** The two databases of one cluster: persistence (histories, shards, task queues) and visibility. */
export interface ClusterDatabases {
  default: string;
  visibility: string;
}

/** The databases' prefix of `npm run cluster` (and docker-compose.yml's database names). */
export const DEFAULT_DATABASE_PREFIX = 'durable_integrations_temporal';

/** The SQL plugin the cluster's persistence and the SQL tool use (PostgreSQL 12 and later). */
export const SQL_PLUGIN = 'postgres12';

/** Where the server module (and the admin-tools image, under /etc/temporal/schema) keeps the PostgreSQL schemas. */
export const POSTGRES_SCHEMA_DIRS = {
  default: 'postgresql/v12/temporal/versioned',
  visibility: 'postgresql/v12/visibility/versioned',
} as const;

export function clusterDatabases(prefix: string): ClusterDatabases {
  if (!/^[a-z_][a-z0-9_]{0,40}$/.test(prefix)) throw new Error(`database prefix ${prefix} must be [a-z0-9_]`);
  return { default: prefix, visibility: `${prefix}_visibility` };
}

/** The server module's PostgreSQL schemas, from the Go module cache (the same version as the binary). */
export interface SchemaDirs {
  temporal: string;
  visibility: string;
}

export async function findSchemaDirs(env: NodeJS.ProcessEnv = process.env): Promise<SchemaDirs> {
  const go = findGo(env);
  if (!go)
    throw new Error(
      `The PostgreSQL schemas come from the Go module ${TEMPORAL_SERVER_MODULE}@${TEMPORAL_SERVER_VERSION}: install Go (or run \`npm run cluster:install\` where Go is)`,
    );
  const root = join(await goModuleDir(go, TEMPORAL_SERVER_MODULE, TEMPORAL_SERVER_VERSION, env), 'schema');
  const dirs = {
    temporal: join(root, POSTGRES_SCHEMA_DIRS.default),
    visibility: join(root, POSTGRES_SCHEMA_DIRS.visibility),
  };
  for (const dir of Object.values(dirs)) if (!existsSync(dir)) throw new Error(`no schema directory at ${dir}`);
  return dirs;
}

export interface SchemaSetupOptions {
  sqlTool: string;
  postgres: PostgresTarget;
  databases: ClusterDatabases;
  schemas: SchemaDirs;
  onProgress?: (line: string) => void;
}

/**
 * Creates the two databases if missing and migrates them to the module's latest schema with the SQL tool:
 * `create-database`, then `setup-schema -v 0.0` only where no schema is (never `--overwrite`), then
 * `update-schema -d <versioned dir>`, which applies only what is newer than the recorded version. Running it
 * again is a no-op. Returns the schema version of each database.
 */
export async function setupSchemas(options: SchemaSetupOptions): Promise<Record<keyof ClusterDatabases, string>> {
  const progress = options.onProgress ?? (() => {});
  const result = {} as Record<keyof ClusterDatabases, string>;
  for (const kind of ['default', 'visibility'] as const) {
    const db = options.databases[kind];
    const dir = kind === 'default' ? options.schemas.temporal : options.schemas.visibility;
    const state = await schemaState(options.postgres, db);
    const tool = (args: string[]) => sqlTool(options.sqlTool, options.postgres, db, args);
    if (state === 'no-database') {
      progress(`Creating database ${db}`);
      await tool(['create-database']);
    }
    if (state !== 'schema') await tool(['setup-schema', '-v', '0.0']);
    await tool(['update-schema', '-d', dir]);
    result[kind] = await schemaVersion(options.postgres, db);
  }
  return result;
}

async function sqlTool(bin: string, pg: PostgresTarget, db: string, args: string[]): Promise<void> {
  const common = ['--plugin', SQL_PLUGIN, '--ep', pg.host, '-p', String(pg.port), '-u', pg.user, '--db', db];
  try {
    await execFileAsync(bin, [...common, ...args], {
      timeout: 120_000,
      // The password goes through the environment, never the command line (visible in ps).
      env: { ...process.env, ...(pg.password ? { SQL_PASSWORD: pg.password } : {}) },
    });
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string; message: string };
    const detail = `${e.stderr ?? ''}${e.stdout ?? ''}`.trim().split('\n').slice(-3).join(' | ') || e.message;
    throw new Error(`temporal-sql-tool ${args[0]} on ${db} failed: ${detail}`);
  }
}

function pgClient(pg: PostgresTarget, database: string): PgClient {
  return new PgClient({ host: pg.host, port: pg.port, user: pg.user, password: pg.password, database });
}

async function withPg<T>(pg: PostgresTarget, database: string, fn: (c: PgClient) => Promise<T>): Promise<T> {
  const client = pgClient(pg, database);
  try {
    await client.connect();
  } catch (err) {
    throw new Error(
      `Cannot reach PostgreSQL at ${pg.host}:${pg.port} as ${pg.user} (${(err as Error).message}): the cluster keeps its histories there`,
    );
  }
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

async function schemaState(pg: PostgresTarget, db: string): Promise<'no-database' | 'empty' | 'schema'> {
  const exists = await withPg(pg, 'postgres', async (c) => {
    const r = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [db]);
    return r.rowCount === 1;
  });
  if (!exists) return 'no-database';
  return withPg(pg, db, async (c) => {
    const r = await c.query(`SELECT to_regclass('public.schema_version') IS NOT NULL AS present`);
    return (r.rows[0] as { present: boolean }).present ? 'schema' : 'empty';
  });
}

async function schemaVersion(pg: PostgresTarget, db: string): Promise<string> {
  return withPg(pg, db, async (c) => {
    const r = await c.query('SELECT curr_version FROM schema_version LIMIT 1');
    return String((r.rows[0] as { curr_version?: string } | undefined)?.curr_version ?? 'unknown');
  });
}

/**
 * Drops the databases of one cluster. For the tests' per-run clusters only: the caller passes names it made
 * itself (with its own prefix), never anyone else's.
 */
export async function dropDatabases(pg: PostgresTarget, databases: ClusterDatabases): Promise<void> {
  await withPg(pg, 'postgres', async (c) => {
    for (const db of Object.values(databases)) {
      await c.query(`DROP DATABASE IF EXISTS "${db}" WITH (FORCE)`);
    }
  });
}

/** Databases whose name starts with `prefix` (e.g. the test clusters' `durable_integrations_t`). */
export async function listDatabases(pg: PostgresTarget, prefix: string): Promise<string[]> {
  return withPg(pg, 'postgres', async (c) => {
    const r = await c.query('SELECT datname FROM pg_database WHERE starts_with(datname, $1)', [prefix]);
    return r.rows.map((row: { datname: string }) => row.datname);
  });
}
