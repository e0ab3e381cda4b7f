// `npm run env:example [-- --check]`: rewrites the integrations' block of .env.example from the registry
// (src/integrations/index.ts); with --check, exits 1 when the file is out of date instead.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderEnvExample } from '../src/config/env-example';
import { fileDropIntegrations, integrations } from '../src/integrations';

const file = join(__dirname, '..', '.env.example');
const current = readFileSync(file, 'utf8');
const next = renderEnvExample(current, integrations, fileDropIntegrations);
if (next === current) {
  process.stdout.write('.env.example is up to date\n');
} else if (process.argv.includes('--check')) {
  process.stderr.write('.env.example is out of date: run npm run env:example\n');
  process.exitCode = 1;
} else {
  writeFileSync(file, next);
  process.stdout.write('.env.example: integrations block regenerated from src/integrations\n');
}
