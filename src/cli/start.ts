import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../config/config';
import { startDevServer } from '../devserver/dev-server';
import { createLogger } from '../observability/logger';
import { installTemporalRuntime } from '../workers/runtime';
import { runDemo } from './demo';
import { DemoStack, usePayloadKeys } from './demo-stack';

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
  const stack = new DemoStack(logDir, say);

  try {
    // Payloads are encrypted (DESIGN rule 9); the codec server lets the UI show them. It needs no Temporal,
    // and the dev server must know its URL when it starts: so it comes first.
    say(usePayloadKeys(config.DATA_DIR));
    const codecUrl = await stack.startCodec(
      process.env.CODEC_CORS_ORIGINS ||
        `http://127.0.0.1:${config.TEMPORAL_UI_PORT},http://localhost:${config.TEMPORAL_UI_PORT}`,
    );
    say(`Codec server at ${codecUrl} (the Web UI decrypts payloads through it)`);

    let address = config.TEMPORAL_ADDRESS;
    let uiUrl: string | undefined;
    if (!address) {
      say('Starting the Temporal dev server...');
      const devServer = await startDevServer({
        dbFilename: join(config.DATA_DIR, 'temporal.sqlite'),
        port: config.TEMPORAL_DEV_PORT,
        uiPort: config.TEMPORAL_UI_PORT,
        uiCodecEndpoint: codecUrl,
        namespace: config.TEMPORAL_NAMESPACE,
        onProgress: say,
      });
      stack.setServer(devServer);
      address = devServer.address;
      uiUrl = devServer.uiUrl;
      say(
        `Temporal dev server at ${address}, Web UI ${uiUrl} [${devServer.cli.version}; binary from ${devServer.cli.source}]`,
      );
    } else {
      say(`Using the Temporal server at ${address}`);
    }

    const env: NodeJS.ProcessEnv = {
      ...process.env,
      NODE_ENV: config.NODE_ENV,
      TEMPORAL_ADDRESS: address,
      TEMPORAL_NAMESPACE: config.TEMPORAL_NAMESPACE,
    };
    const { sandboxUrl } = await stack.startReceiverAndSandbox(env, config.SANDBOX_PORT);
    const bank = await stack.startBankSftp();
    await stack.startWorkers({ ...env, ...bank?.env }, sandboxUrl, 1);
    say(`Worker ready (logs in ${logDir})`);
    await stack.startStatusPage(env, uiUrl);

    const ok = await runDemo({
      address,
      namespace: config.TEMPORAL_NAMESPACE,
      uiUrl,
      sandboxUrl,
      bank: bank?.server,
      say,
      leaveParked: !once,
    });
    if (once) {
      await stack.stop();
      return ok ? 0 : 1;
    }
    say(ok ? 'Demo succeeded.' : 'Demo FAILED: see the workflows above.');
    say(`Everything stays up: open ${uiUrl ?? 'your Temporal UI'}. Ctrl-C stops it all.`);
    await new Promise(() => {}); // until a signal
    return 0;
  } catch (err) {
    process.stderr.write(`\n${err instanceof Error ? err.message : String(err)}\n`);
    await stack.stop();
    return 1;
  }
}

void main().then((code) => process.exit(code));
