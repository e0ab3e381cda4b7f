import { join } from 'node:path';
import { startService, type ServiceProcess } from '../../src/devserver/service-process';
import { TMP_DIR } from './stack';
import { testEnv } from './temporal';

/** A real worker process, as production runs it (src/workers/main.ts), against the test server and sandbox. */
export function workerProcess(name: string): ServiceProcess {
  return startService({
    name,
    entry: 'src/workers/main.ts',
    env: { ...process.env, TEMPORAL_ADDRESS: testEnv.temporalAddress, LOG_LEVEL: 'info' },
    logFile: join(TMP_DIR, 'logs', `${name}-${process.pid}.log`),
    readyEvent: 'worker.ready',
  });
}
