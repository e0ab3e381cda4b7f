// `npm run cluster [-- --once] [--workers N] [--no-ui] [--port P] [--ui-port P] [--db-prefix NAME]`:
// the demo of `npm start` on a real Temporal cluster: four server processes (frontend, history, matching,
// worker) on PostgreSQL, the Web UI server, the codec server, the receiver, the sandbox and N worker
// processes (2 by default). `--once` exits after the demo, 0 when every scenario ended as expected.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { runDemo } from '../src/cli/demo';
import { DemoStack, usePayloadKeys } from '../src/cli/demo-stack';
import { clusterServices, startCluster } from '../src/cluster/cluster';
import { freePort } from '../src/cluster/ports';
import { DEFAULT_POSTGRES, parsePostgresUrl } from '../src/cluster/schema';
import { loadConfig } from '../src/config/config';
import { createLogger } from '../src/observability/logger';
import { installTemporalRuntime } from '../src/workers/runtime';

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main(): Promise<number> {
  if (existsSync('.env')) process.loadEnvFile('.env');
  const config = loadConfig();
  const once = process.argv.includes('--once');
  const workers = Number(flag('workers') ?? 2);
  if (!Number.isInteger(workers) || workers < 1) throw new Error('--workers expects a whole number >= 1');
  const withUi = !process.argv.includes('--no-ui');
  const dataDir = join(config.DATA_DIR, 'cluster');
  const logDir = join(dataDir, 'logs');
  const say = (line: string) => process.stdout.write(`${line}\n`);
  installTemporalRuntime(createLogger({ name: 'cluster', level: 'warn' }));
  const stack = new DemoStack(logDir, say);

  try {
    say(usePayloadKeys(config.DATA_DIR));
    const uiPort = withUi ? Number(flag('ui-port') ?? (await freePort())) : undefined;
    const codecUrl = await stack.startCodec(
      uiPort ? `http://127.0.0.1:${uiPort},http://localhost:${uiPort}` : config.CODEC_CORS_ORIGINS,
    );
    say(`Codec server at ${codecUrl}`);

    const postgresUrl = flag('postgres');
    const cluster = await startCluster({
      dir: dataDir,
      postgres: postgresUrl ? parsePostgresUrl(postgresUrl) : DEFAULT_POSTGRES,
      databasePrefix: flag('db-prefix'),
      namespace: config.TEMPORAL_NAMESPACE,
      frontendPort: flag('port') ? Number(flag('port')) : undefined,
      ui: uiPort ? { port: uiPort, codecEndpoint: codecUrl } : false,
      onProgress: say,
    });
    stack.setServer(cluster);
    const { timings } = cluster;
    say(
      `Temporal cluster at ${cluster.address} (namespace ${cluster.namespace}, databases ${cluster.databases.default} + ${cluster.databases.visibility}, schema ${cluster.schemaVersions.default}/${cluster.schemaVersions.visibility})` +
        `${cluster.uiUrl ? `, Web UI ${cluster.uiUrl}` : ''}: binaries ${timings.resolveMs} ms${timings.buildMs ? ` (built in ${Math.round(timings.buildMs / 1000)} s)` : ''}, schema ${timings.schemaMs} ms, started in ${timings.startMs} ms; logs in ${logDir}`,
    );

    const env: NodeJS.ProcessEnv = {
      ...process.env,
      NODE_ENV: config.NODE_ENV,
      TEMPORAL_ADDRESS: cluster.address,
      TEMPORAL_NAMESPACE: cluster.namespace,
    };
    const { sandboxUrl } = await stack.startReceiverAndSandbox(env, config.SANDBOX_PORT);
    await stack.startWorkers(env, sandboxUrl, workers);
    say(`${workers} worker processes ready (logs in ${logDir})`);

    const ok = await runDemo({
      address: cluster.address,
      namespace: cluster.namespace,
      uiUrl: cluster.uiUrl,
      sandboxUrl,
      say,
      leaveParked: !once,
    });
    const rss = cluster.rss();
    const mib = (b: number | undefined) => (b === undefined ? '?' : `${Math.round(b / 1048576)} MiB`);
    const serverTotal = clusterServices.reduce((sum, s) => sum + (rss[s] ?? 0), 0);
    say(
      `Cluster memory (RSS): ${Object.entries(rss)
        .map(([name, b]) => `${name} ${mib(b)}`)
        .join(', ')}; the four server processes ${mib(serverTotal)}`,
    );
    if (once) {
      await stack.stop();
      return ok ? 0 : 1;
    }
    say(ok ? 'Demo succeeded.' : 'Demo FAILED: see the workflows above.');
    say(`Everything stays up: open ${cluster.uiUrl ?? 'your Temporal UI'}. Ctrl-C stops it all.`);
    await new Promise(() => {});
    return 0;
  } catch (err) {
    process.stderr.write(`\n${err instanceof Error ? err.message : String(err)}\n`);
    await stack.stop();
    return 1;
  }
}

void main().then((code) => process.exit(code));
