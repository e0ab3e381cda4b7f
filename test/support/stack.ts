import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { devCredentials } from '../../src/devserver/dev-credentials';
import { startDevServer, type DevServer } from '../../src/devserver/dev-server';
import { startService, type ServiceProcess } from '../../src/devserver/service-process';
import { createLogger } from '../../src/observability/logger';
import { installTemporalRuntime } from '../../src/workers/runtime';
import { workflowBundleOptions, workflowSourcesHash, writePrebuiltBundle } from '../../src/workers/workflow-bundle';

export const TMP_DIR = join(__dirname, '..', '..', '.tmp');

export interface TestStack {
  devServer: DevServer;
  sandbox: ServiceProcess;
  /** Variables the test processes read (see test/support/temporal.ts). */
  env: {
    TEST_TEMPORAL_ADDRESS: string;
    TEST_SANDBOX_URL: string;
    TEST_WORKFLOW_BUNDLE: string;
  } & ReturnType<ReturnType<typeof devCredentials>['integrationEnv']> &
    ReturnType<typeof devCredentials>['receiverEnv'];
}

/**
 * The real parts every test run uses: one Temporal dev server (in memory, free port) and one sandbox
 * process, with fresh random credentials shared by the sandbox and the code under test.
 */
export async function startTestStack(): Promise<TestStack> {
  mkdirSync(TMP_DIR, { recursive: true });
  installTemporalRuntime(testLogger());
  const credentials = devCredentials();
  const sourcesHash = workflowSourcesHash();
  const [devServer, bundle] = await Promise.all([
    startDevServer({ onProgress: (line) => console.log(line) }),
    bundleWorkflowCode({ ...workflowBundleOptions(), logger: quietBundlerLogger }),
  ]);
  // Also as the prebuilt bundle (what `npm run build:workflows` writes): the worker processes the tests
  // start use it, as a deployment's would, instead of each bundling the same code again at start.
  writePrebuiltBundle(bundle.code, sourcesHash, false);
  const sandbox = startService({
    name: 'sandbox',
    entry: 'src/sandbox/main.ts',
    env: {
      ...process.env,
      SANDBOX_PORT: '0',
      ...credentials.sandboxEnv,
    },
    logFile: join(TMP_DIR, 'logs', `sandbox-${process.pid}.log`),
    readyEvent: 'sandbox.listening',
  });
  let sandboxUrl: string;
  try {
    sandboxUrl = String((await sandbox.ready).url);
  } catch (err) {
    await devServer.stop();
    throw err;
  }
  // Per run, so two suites running side by side never read each other's bundle.
  const bundlePath = join(TMP_DIR, `workflow-bundle-${process.pid}.js`);
  writeFileSync(bundlePath, bundle.code);
  return {
    devServer,
    sandbox,
    env: {
      TEST_TEMPORAL_ADDRESS: devServer.address,
      TEST_SANDBOX_URL: sandboxUrl,
      TEST_WORKFLOW_BUNDLE: bundlePath,
      ...credentials.integrationEnv(sandboxUrl),
      ...credentials.receiverEnv,
    },
  };
}

/** Test processes log errors only, unless LOG_LEVEL says otherwise (LOG_LEVEL=info shows every call). */
export function testLogger() {
  return createLogger({ name: 'test', level: process.env.LOG_LEVEL ?? 'error' });
}

/** A bundler logger that keeps webpack's chatter out of test and benchmark output. */
export const quietBundlerLogger = {
  log: () => {},
  trace: () => {},
  debug: () => {},
  info: () => {},
  warn: (message: string) => console.warn(message),
  error: (message: string) => console.error(message),
};

export async function stopTestStack(stack: TestStack): Promise<void> {
  await stack.sandbox.stop();
  await stack.devServer.stop();
  rmSync(stack.env.TEST_WORKFLOW_BUNDLE, { force: true });
}
