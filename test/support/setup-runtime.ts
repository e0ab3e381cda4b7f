// Runs in every test file before its tests: Temporal's runtime logs go through our pino logger
// (errors only, unless LOG_LEVEL says otherwise) instead of the SDK's default console output.
import { Runtime } from '@temporalio/worker';
import { installTemporalRuntime } from '../../src/workers/runtime';
import { testLogger } from './stack';

installTemporalRuntime(testLogger());

// Jest gives each file a fresh module registry, hence a fresh Runtime singleton: shut this file's down,
// or its native threads keep the process alive after the last test.
afterAll(async () => {
  await Runtime._instance?.shutdown();
});
