// `npm run cluster:install`: find or build the pinned Temporal server, its SQL tool and the Web UI server into
// the cache, and fetch the server module (its PostgreSQL schemas) into the Go module cache (used by .ci/run).
import { resolveClusterTools } from '../src/cluster/binaries';
import { findSchemaDirs } from '../src/cluster/schema';

const started = Date.now();
resolveClusterTools(['temporal-server', 'temporal-sql-tool', 'temporal-ui-server'], {
  onProgress: (line) => console.log(line),
})
  .then(async (tools) => {
    for (const tool of Object.values(tools))
      console.log(`${tool.tool}: ${tool.path} (${tool.source}; ${tool.version})`);
    const schemas = await findSchemaDirs();
    console.log(`PostgreSQL schemas: ${schemas.temporal}, ${schemas.visibility}`);
    console.log(`in ${((Date.now() - started) / 1000).toFixed(1)}s`);
  })
  .catch((err: Error) => {
    console.error(err.message);
    process.exit(1);
  });
