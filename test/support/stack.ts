import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { startDevServer, type DevServer } from '../../src/devserver/dev-server';
import { startService, type ServiceProcess } from '../../src/devserver/service-process';
import { createLogger } from '../../src/observability/logger';
import { installTemporalRuntime } from '../../src/workers/runtime';
import { workflowsPath } from '../../src/workers/worker';

export const TMP_DIR = join(__dirname, '..', '..', '.tmp');

export interface TestStack {
  devServer: DevServer;
  sandbox: ServiceProcess;
  /** Variables the test processes read (see test/support/env.ts). */
  env: Record<string, string>;
}

/**
 * The real parts every test run uses: one Temporal dev server (in memory, free port) and one sandbox
 * process, with fresh random credentials shared by the sandbox and the code under test.
 */
export async function startTestStack(): Promise<TestStack> {
  mkdirSync(TMP_DIR, { recursive: true });
  installTemporalRuntime(testLogger());
  const paymentsClientId = `test-${randomBytes(4).toString('hex')}`;
  const paymentsClientSecret = randomBytes(24).toString('base64url');
  const [devServer, bundle] = await Promise.all([
    startDevServer({ onProgress: (line) => console.log(line) }),
    bundleWorkflowCode({ workflowsPath, logger: quietBundlerLogger }),
  ]);
  const sandbox = startService({
    name: 'sandbox',
    entry: 'src/sandbox/main.ts',
    env: {
      ...process.env,
      SANDBOX_PORT: '0',
      SANDBOX_PAYMENTS_CLIENT_ID: paymentsClientId,
      SANDBOX_PAYMENTS_CLIENT_SECRET: paymentsClientSecret,
    },
    logFile: join(TMP_DIR, 'logs', 'sandbox.log'),
    readyEvent: 'sandbox.listening',
  });
  let sandboxUrl: string;
  try {
    sandboxUrl = String((await sandbox.ready).url);
  } catch (err) {
    await devServer.stop();
    throw err;
  }
  const bundlePath = join(TMP_DIR, 'workflow-bundle.js');
  writeFileSync(bundlePath, bundle.code);
  return {
    devServer,
    sandbox,
    env: {
      TEST_TEMPORAL_ADDRESS: devServer.address,
      TEST_SANDBOX_URL: sandboxUrl,
      TEST_WORKFLOW_BUNDLE: bundlePath,
      PAYMENTS_URL: `${sandboxUrl}/payments`,
      PAYMENTS_CLIENT_ID: paymentsClientId,
      PAYMENTS_CLIENT_SECRET: paymentsClientSecret,
    },
  };
}

/** Test processes log errors only, unless LOG_LEVEL says otherwise (LOG_LEVEL=info shows every call). */
export function testLogger() {
  return createLogger({ name: 'test', level: process.env.LOG_LEVEL ?? 'error' });
}

const quietBundlerLogger = {
  log: () => {},
  trace: () => {},
  debug: () => {},
  info: () => {},
  warn: (message: string) => console.warn(message),
  error: (message: string) => console.error(message),
};
