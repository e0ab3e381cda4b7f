// `npm run catalog [-- --json] [-- --static]`: every declared integration, its owner, support, endpoints and
// profiles; with a reachable Temporal, also its live status (the status page's data, src/status/).
import { catalog, catalogTable } from '../integrations/catalog';
import { integrations } from '../integrations';
import { loadConfig } from '../config/config';
import { statusSource } from '../status/start';
import { statusTable } from '../status/terminal';

async function main(): Promise<void> {
  const json = process.argv.includes('--json');
  const entries = catalog(Object.values(integrations));
  let live: Awaited<ReturnType<ReturnType<typeof statusSource>['status']>> | undefined;
  let why = '--static';
  if (!process.argv.includes('--static')) {
    const source = statusSource(loadConfig());
    try {
      const report = await source.status();
      if (report.temporal.reachable) live = report;
      else why = report.temporal.error ?? 'Temporal is unreachable';
    } finally {
      await source.close();
    }
  }
  if (json) {
    const withLive = entries.map((e) => ({
      ...e,
      ...(live ? { live: live.integrations.find((i) => i.name === e.name) } : {}),
    }));
    process.stdout.write(`${JSON.stringify(withLive, null, 2)}\n`);
    return;
  }
  const status = live ? statusTable(live) : `Declarations only (${why}).`;
  process.stdout.write(`${catalogTable(entries)}\n\n${status}\n`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
