/**
 * `npm run integrations:manifest`: writes src/integrations/manifest.generated.ts, the workflow-side view
 * of the registry's declarations (src/integrations/kit/manifest.ts). Run it after adding or changing an
 * integration; test/unit/integration-manifest.test.ts fails until it is.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileDropIntegrations, integrations } from '../src/integrations';
import { manifestSource, MANIFEST_PATH } from '../src/integrations/kit/manifest';

function main(): void {
  const path = join(__dirname, '..', MANIFEST_PATH);
  const text = manifestSource(integrations, fileDropIntegrations);
  let current = '';
  try {
    current = readFileSync(path, 'utf8');
  } catch {
    // absent: written below
  }
  if (current === text) {
    console.log(`${MANIFEST_PATH} is up to date`);
    return;
  }
  writeFileSync(path, text);
  console.log(`wrote ${MANIFEST_PATH}`);
}

main();
