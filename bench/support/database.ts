import pg from 'pg';

/** PostgreSQL server for the benchmarks' own databases (trust auth here). */
export const benchPgServer = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432';

/** The benchmark's own database, created when missing; returns its URL. */
export async function ensureBenchDatabase(name: string): Promise<string> {
  if (!/^di_[a-z0-9_]+$/.test(name)) throw new Error(`bench database names start with di_: ${name}`);
  const admin = new pg.Client({ connectionString: `${benchPgServer}/postgres` });
  await admin.connect();
  try {
    const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (exists.rowCount === 0) await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  return `${benchPgServer}/${name}`;
}

/** Drops a table the benchmark created in its own database. */
export async function dropBenchTable(url: string, table: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query(`DROP TABLE IF EXISTS ${table}`).finally(() => client.end());
}
