import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encryptionKeysFromEnv, generateEncryptionKey, parseEncryptionKeys } from '../codec/encryption-codec';
import { loadConfig, type Config } from '../config/config';
import { devCredentials } from '../devserver/dev-credentials';
import { startDevServer, type DevServer } from '../devserver/dev-server';
import { startService, type ServiceProcess } from '../devserver/service-process';
import { createLogger } from '../observability/logger';
import { installTemporalRuntime } from '../workers/runtime';
import { runDemo } from './demo';

/**
 * `npm start`: the embedded stack (Temporal dev server with its UI, the provider sandbox, a worker) and
 * the demo scenario, then stays up for the operator until Ctrl-C. `--once` exits after the demo with
 * 0 when every scenario ended as expected.
 */
async function main(): Promise<number> {
  if (existsSync('.env')) process.loadEnvFile('.env');
  const config = loadConfig();
  const once = process.argv.includes('--once');
  const logDir = join(config.DATA_DIR, 'logs');
  const say = (line: string) => process.stdout.write(`${line}\n`);
  installTemporalRuntime(createLogger({ name: 'start', level: 'warn' }));

  const services: ServiceProcess[] = [];
  let devServer: DevServer | undefined;
  let stopping: Promise<void> | undefined;
  const shutdown = () =>
    (stopping ??= (async () => {
      say('Stopping...');
      for (const s of services.reverse()) await s.stop();
      await devServer?.stop();
      say('Stopped.');
    })());

  process.once('SIGINT', () => void shutdown().then(() => process.exit(130)));
  process.once('SIGTERM', () => void shutdown().then(() => process.exit(143)));

  try {
    // Payloads are encrypted (DESIGN rule 9); the codec server lets the UI show them. It needs no Temporal,
    // and the dev server must know its URL when it starts: so it comes first.
    say(payloadKeys(config));
    const codec = startService({
      name: 'codec',
      entry: 'src/codec/main.ts',
      env: {
        ...process.env,
        CODEC_CORS_ORIGINS:
          process.env.CODEC_CORS_ORIGINS ||
          `http://127.0.0.1:${config.TEMPORAL_UI_PORT},http://localhost:${config.TEMPORAL_UI_PORT}`,
      },
      logFile: join(logDir, 'codec.log'),
      readyEvent: 'codec.listening',
    });
    services.push(codec);
    const codecUrl = String((await codec.ready).url);
    say(`Codec server at ${codecUrl} (the Web UI decrypts payloads through it)`);

    let address = config.TEMPORAL_ADDRESS;
    let uiUrl: string | undefined;
    if (!address) {
      say('Starting the Temporal dev server...');
      devServer = await startDevServer({
        dbFilename: join(config.DATA_DIR, 'temporal.sqlite'),
        port: config.TEMPORAL_DEV_PORT,
        uiPort: config.TEMPORAL_UI_PORT,
        uiCodecEndpoint: codecUrl,
        namespace: config.TEMPORAL_NAMESPACE,
        onProgress: say,
      });
      address = devServer.address;
      uiUrl = devServer.uiUrl;
      say(
        `Temporal dev server at ${address}, Web UI ${uiUrl} [${devServer.cli.version}; binary from ${devServer.cli.source}]`,
      );
    } else {
      say(`Using the Temporal server at ${address}`);
    }

    const credentials = devCredentials();
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      NODE_ENV: config.NODE_ENV,
      TEMPORAL_ADDRESS: address,
      TEMPORAL_NAMESPACE: config.TEMPORAL_NAMESPACE,
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
    say(`Provider sandbox at ${sandboxUrl} (its document webhooks go to the receiver)`);

    const worker = startService({
      name: 'worker',
      entry: 'src/workers/main.ts',
      env: { ...env, ...credentials.integrationEnv(sandboxUrl) },
      logFile: join(logDir, 'worker.log'),
      readyEvent: 'worker.ready',
    });
    services.push(worker);
    await worker.ready;
    say(`Worker ready (logs in ${logDir})`);

    const ok = await runDemo({
      address,
      namespace: config.TEMPORAL_NAMESPACE,
      uiUrl,
      sandboxUrl,
      say,
      leaveParked: !once,
    });
    if (once) {
      await shutdown();
      return ok ? 0 : 1;
    }
    say(ok ? 'Demo succeeded.' : 'Demo FAILED: see the workflows above.');
    say(`Everything stays up: open ${uiUrl ?? 'your Temporal UI'}. Ctrl-C stops it all.`);
    await new Promise(() => {}); // until a signal
    return 0;
  } catch (err) {
    process.stderr.write(`\n${err instanceof Error ? err.message : String(err)}\n`);
    await shutdown();
    return 1;
  }
}

/**
 * The payload encryption keys of this run, put in `process.env.PAYLOAD_ENCRYPTION_KEYS` for the demo client
 * and every child. Configured keys win; otherwise the key kept in `<DATA_DIR>/payload-key` (mode 0600),
 * generated on the first run, so histories kept by the dev server stay readable after a restart.
 */
function payloadKeys(config: Config): string {
  const configured = encryptionKeysFromEnv(process.env);
  if (configured) return `Payload encryption: configured keys (current: ${configured[0]!.id})`;
  const file = join(config.DATA_DIR, 'payload-key');
  let created = false;
  if (!existsSync(file)) {
    mkdirSync(config.DATA_DIR, { recursive: true });
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
