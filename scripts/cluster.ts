// `npm run cluster [-- --once] [--workers N] [--no-ui] [--port P] [--ui-port P] [--db-prefix NAME]`:
// the demo of `npm start` on a real Temporal cluster: four server processes (frontend, history, matching,
// worker) on PostgreSQL, the Web UI server, the codec server, the receiver, the sandbox and N worker
// processes (2 by default). `--once` exits after the demo, 0 when every scenario ended as expected.
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runDemo } from '../src/cli/demo';
import { startCluster, type Cluster } from '../src/cluster/cluster';
import { freePort } from '../src/cluster/ports';
import { DEFAULT_POSTGRES, parsePostgresUrl } from '../src/cluster/schema';
import { encryptionKeysFromEnv, generateEncryptionKey, parseEncryptionKeys } from '../src/codec/encryption-codec';
import { loadConfig } from '../src/config/config';
import { devCredentials } from '../src/devserver/dev-credentials';
import { startService, type ServiceProcess } from '../src/devserver/service-process';
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

  const services: ServiceProcess[] = [];
  let cluster: Cluster | undefined;
  let stopping: Promise<void> | undefined;
  const shutdown = () =>
    (stopping ??= (async () => {
      say('Stopping...');
      for (const s of services.reverse()) await s.stop();
      await cluster?.stop();
      say('Stopped.');
    })());
  process.once('SIGINT', () => void shutdown().then(() => process.exit(130)));
  process.once('SIGTERM', () => void shutdown().then(() => process.exit(143)));

  try {
    say(payloadKeys(config.DATA_DIR));
    const uiPort = withUi ? Number(flag('ui-port') ?? (await freePort())) : undefined;
    const codec = startService({
      name: 'codec',
      entry: 'src/codec/main.ts',
      env: {
        ...process.env,
        CODEC_CORS_ORIGINS: uiPort
          ? `http://127.0.0.1:${uiPort},http://localhost:${uiPort}`
          : config.CODEC_CORS_ORIGINS,
      },
      logFile: join(logDir, 'codec.log'),
      readyEvent: 'codec.listening',
    });
    services.push(codec);
    const codecUrl = String((await codec.ready).url);
    say(`Codec server at ${codecUrl}`);

    const postgresUrl = flag('postgres');
    cluster = await startCluster({
      dir: dataDir,
      postgres: postgresUrl ? parsePostgresUrl(postgresUrl) : DEFAULT_POSTGRES,
      databasePrefix: flag('db-prefix'),
      namespace: config.TEMPORAL_NAMESPACE,
      frontendPort: flag('port') ? Number(flag('port')) : undefined,
      ui: uiPort ? { port: uiPort, codecEndpoint: codecUrl } : false,
      onProgress: say,
    });
    const { timings } = cluster;
    say(
      `Temporal cluster at ${cluster.address} (namespace ${cluster.namespace}, databases ${cluster.databases.default} + ${cluster.databases.visibility}, schema ${cluster.schemaVersions.default}/${cluster.schemaVersions.visibility})` +
        `${cluster.uiUrl ? `, Web UI ${cluster.uiUrl}` : ''}: binaries ${timings.resolveMs} ms${timings.buildMs ? ` (built in ${Math.round(timings.buildMs / 1000)} s)` : ''}, schema ${timings.schemaMs} ms, started in ${timings.startMs} ms; logs in ${logDir}`,
    );

    const credentials = devCredentials();
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      NODE_ENV: config.NODE_ENV,
      TEMPORAL_ADDRESS: cluster.address,
      TEMPORAL_NAMESPACE: cluster.namespace,
    };
    const receiver = startService({
      name: 'webhooks',
      entry: 'src/webhooks/main.ts',
      env: { ...env, ...credentials.receiverEnv },
      logFile: join(logDir, 'webhooks.log'),
      readyEvent: 'receiver.listening',
    });
    services.push(receiver);
    const receiverUrl = String((await receiver.ready).url);
    say(`Webhook receiver at ${receiverUrl}`);

    const sandbox = startService({
      name: 'sandbox',
      entry: 'src/sandbox/main.ts',
      env: {
        ...env,
        SANDBOX_PORT: String(config.SANDBOX_PORT),
        SANDBOX_WEBHOOK_TARGET: `${receiverUrl}/webhooks/documents`,
        ...credentials.sandboxEnv,
      },
      logFile: join(logDir, 'sandbox.log'),
      readyEvent: 'sandbox.listening',
    });
    services.push(sandbox);
    const sandboxUrl = String((await sandbox.ready).url);
    say(`Provider sandbox at ${sandboxUrl}`);

    const pool = Array.from({ length: workers }, (_, i) =>
      startService({
        name: `worker-${i + 1}`,
        entry: 'src/workers/main.ts',
        env: { ...env, ...credentials.integrationEnv(sandboxUrl) },
        logFile: join(logDir, `worker-${i + 1}.log`),
        readyEvent: 'worker.ready',
      }),
    );
    services.push(...pool);
    await Promise.all(pool.map((w) => w.ready));
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
    const serverTotal = ['frontend', 'history', 'matching', 'worker'].reduce((sum, s) => sum + (rss[s] ?? 0), 0);
    say(
      `Cluster memory (RSS): ${Object.entries(rss)
        .map(([name, b]) => `${name} ${mib(b)}`)
        .join(', ')}; the four server processes ${mib(serverTotal)}`,
    );
    if (once) {
      await shutdown();
      return ok ? 0 : 1;
    }
    say(ok ? 'Demo succeeded.' : 'Demo FAILED: see the workflows above.');
    say(`Everything stays up: open ${cluster.uiUrl ?? 'your Temporal UI'}. Ctrl-C stops it all.`);
    await new Promise(() => {});
    return 0;
  } catch (err) {
    process.stderr.write(`\n${err instanceof Error ? err.message : String(err)}\n`);
    await shutdown();
    return 1;
  }
}

/**
 * The payload keys: configured ones win; else the key `npm start` keeps in `<DATA_DIR>/payload-key`
 * (generated on the first run), so both stacks' histories stay readable after a restart.
 */
function payloadKeys(dataDir: string): string {
  const configured = encryptionKeysFromEnv(process.env);
  if (configured) return `Payload encryption: configured keys (current: ${configured[0]!.id})`;
  const file = join(dataDir, 'payload-key');
  let created = false;
  if (!existsSync(file)) {
    mkdirSync(dataDir, { recursive: true });
    const id = `dev-${new Date().toISOString().slice(0, 10).replaceAll('-', '')}`;
    writeFileSync(file, `${generateEncryptionKey(id)}\n`, { mode: 0o600, flag: 'wx' });
    created = true;
  }
  chmodSync(file, 0o600);
  const spec = readFileSync(file, 'utf8').trim();
  const keys = parseEncryptionKeys(spec, file);
  process.env.PAYLOAD_ENCRYPTION_KEYS = spec;
  return `Payload encryption: key ${keys[0]!.id} ${created ? 'generated into' : 'from'} ${file}`;
}

void main().then((code) => process.exit(code));
