import { createServer, type AddressInfo } from 'node:net';
import { Runtime, makeTelemetryFilterString } from '@temporalio/worker';
import { STEP_DURATION_BUCKETS, STEP_DURATION_METRIC } from '../contracts/workflow-metrics';
import { TemporalPinoLogger, type Logger } from '../observability/logger';

let installed = false;

export interface TemporalRuntimeOptions {
  /**
   * Where Core's Prometheus exporter listens (`host:port`), e.g. `127.0.0.1:9464`. It serves the SDK's
   * own metrics (task slots, poll and schedule-to-start latencies, workflow and activity outcomes, each
   * with its `task_queue`) and the counters workflows create through their metric meter
   * (`integration_parked_total`, `integration_budget_alert_total`, `dark_launch_comparisons_total`, the
   * histogram `integration_step_duration_seconds`: these without the SDK's `temporal_` prefix, labelled
   * `taskQueue` and `workflowType`).
   * The worker binds it to loopback and appends it to its own `/metrics` (src/observability/metrics.ts).
   * No metrics are exported when unset.
   */
  prometheusBindAddress?: string;
}

/**
 * Sends the Temporal runtime's logs (SDK, Core, workflow and activity context loggers) to our pino
 * logger, and its metrics to a Prometheus endpoint when asked. Must run before any other Temporal object
 * is created in the process; later calls are no-ops.
 */
export function installTemporalRuntime(logger: Logger, options: TemporalRuntimeOptions = {}): void {
  if (installed) return;
  installed = true;
  Runtime.install({
    logger: new TemporalPinoLogger(logger.child({ component: 'temporal' })),
    telemetryOptions: {
      logging: { filter: makeTelemetryFilterString({ core: 'WARN', other: 'ERROR' }), forward: {} },
      ...(options.prometheusBindAddress
        ? {
            metrics: {
              prometheus: {
                bindAddress: options.prometheusBindAddress,
                // Prometheus conventions: counters end in _total, durations are in seconds.
                countersTotalSuffix: true,
                useSecondsForDurations: true,
                // Workflow-recorded histograms get buckets made for them (Core's defaults are not).
                histogramBucketOverrides: { [STEP_DURATION_METRIC]: STEP_DURATION_BUCKETS },
              },
            },
          }
        : {}),
    },
  });
}

/** A free loopback `host:port` for Core's metrics exporter (which cannot be asked for port 0 and report it). */
export function freeLoopbackAddress(): Promise<string> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(`127.0.0.1:${port}`));
    });
  });
}
