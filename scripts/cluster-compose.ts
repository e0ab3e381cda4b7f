// `node --import tsx scripts/cluster-compose.ts`: writes the files docker-compose.yml mounts that come from the
// cluster's own config (src/cluster/server-config.ts), so both run Temporal the same way. Today: the dynamic
// config. test/unit/docker-compose.test.ts fails, naming this script, when a file is out of date.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dynamicConfigYaml } from '../src/cluster/server-config';

export const composeDynamicConfigPath = join(__dirname, '..', 'docker', 'temporal', 'dynamicconfig.yaml');

if (require.main === module) {
  writeFileSync(composeDynamicConfigPath, dynamicConfigYaml());
  process.stdout.write(`wrote ${composeDynamicConfigPath}\n`);
}
