import { Client } from 'pg';

/** The tests' PostgreSQL database (trust auth here); each test's tables are its own. */
export const testDatabase = process.env.TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** One statement on its own connection: the rows it returns. */
export async function sql<Row extends object = Record<string, unknown>>(
  text: string,
  url = testDatabase,
): Promise<Row[]> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<Row>(text)).rows;
  } finally {
    await client.end();
  }
}
