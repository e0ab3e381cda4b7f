// `npm run catalog [-- --json]`: every declared integration, its owner, endpoints and profiles.
import { catalog, catalogTable } from '../integrations/catalog';
import { integrations } from '../integrations';

const entries = catalog(Object.values(integrations));
process.stdout.write(
  process.argv.includes('--json') ? `${JSON.stringify(entries, null, 2)}\n` : `${catalogTable(entries)}\n`,
);
