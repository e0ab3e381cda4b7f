// `npm run temporal:install`: find or build the pinned Temporal CLI into the cache (used by .ci/run).
import { resolveTemporalCli } from '../src/devserver/temporal-cli';

const started = Date.now();
resolveTemporalCli({ onProgress: (line) => console.log(line) })
  .then((cli) => {
    console.log(
      `Temporal CLI: ${cli.path} (${cli.source}; ${cli.version}) in ${((Date.now() - started) / 1000).toFixed(1)}s`,
    );
  })
  .catch((err: Error) => {
    console.error(err.message);
    process.exit(1);
  });
