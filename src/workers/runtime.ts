import { Runtime, makeTelemetryFilterString } from '@temporalio/worker';
import { TemporalPinoLogger, type Logger } from '../observability/logger';

let installed = false;

/**
 * Sends the Temporal runtime's logs (SDK, Core, workflow and activity context loggers) to our pino
 * logger. Must run before any other Temporal object is created in the process; later calls are no-ops.
 */
export function installTemporalRuntime(logger: Logger): void {
  if (installed) return;
  installed = true;
  Runtime.install({
    logger: new TemporalPinoLogger(logger.child({ component: 'temporal' })),
    telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: 'WARN', other: 'ERROR' }), forward: {} } },
  });
}
