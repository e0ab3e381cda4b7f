import type { DataConverter, Duration } from '@temporalio/common';
import { Client } from '@temporalio/client';
import { type NativeConnection, Worker, type WorkerOptions, type WorkflowBundleOption } from '@temporalio/worker';
import type * as otelWorkerModule from '@temporalio/interceptors-opentelemetry/lib/worker';
import type { Tracing } from '../observability/tracing';
import { createActivities, createFileDropActivities } from '../activities';
import { createBulkResolveActivities } from '../activities/bulk-resolve.activities';
import { BULK_RESOLVE_TASK_QUEUE } from '../contracts/bulk-resolve';
import { createReportActivities, type ReportActivityOptions } from '../activities/report.activities';
import {
  fileDropIntegrations,
  integrationNames,
  integrations,
  type FileDropIntegrationName,
  type IntegrationName,
} from '../integrations';
import type { IntegrationEngine } from '../integrations/runtime/engine';
import type { TrafficSpec } from '../integrations/kit/define';
import type { FileDropEngine } from '../integrations/runtime/sftp/engine';
import { REPORTS_TASK_QUEUE } from '../contracts/reports';
import { WORKFLOWS_TASK_QUEUE, integrationBulkTaskQueue, integrationTaskQueue } from '../contracts/task-queues';
import { BULK_LANE_ACTIVITY, bulkQueueRatePerSecond } from '../contracts/bulk-lane';
import { workflowCodeOption } from './workflow-bundle';

export interface WorkerSetOptions {
  connection: NativeConnection;
  namespace: string;
  /** Makes the HTTP calls of every activity in this process. */
  runtime: IntegrationEngine;
  /** A pre-built bundle (tests, replay); otherwise `src/workflows` is bundled at start. */
  workflowBundle?: WorkflowBundleOption;
  /** Integrations whose activity queues this process serves. @default all of them */
  integrations?: IntegrationName[];
  /**
   * Serves the file-drop (SFTP) integrations' queues with this engine; not served when unset.
   * `fileDropIntegrations` narrows which. @default none
   */
  fileDrops?: FileDropEngine;
  fileDropIntegrations?: FileDropIntegrationName[];
  /**
   * Serves the 4xx report's queue (`reports`: its activity reads Prometheus, src/activities/report.activities.ts).
   * Not served when unset. @default none
   */
  reports?: ReportActivityOptions;
  /** Whether this process also runs workflow tasks. @default true */
  workflows?: boolean;
  /**
   * Whether this process serves the `operations` queue (bulk resolution's listing and Updates, over a
   * client on this connection). @default true
   */
  operations?: boolean;
  /** Extra options per worker, e.g. a test's shorter shutdown grace. */
  shutdownGraceTime?: Duration;
  /**
   * Workflows kept in the workflow worker's cache (sticky execution); the rest are evicted and replayed
   * from their history on their next task. @default {@link DEFAULT_MAX_CACHED_WORKFLOWS}
   */
  maxCachedWorkflows?: number;
  /** Payload codecs (encryption, `dataConverterFromConfig`) for every worker; plain payloads when unset. */
  dataConverter?: DataConverter;
  /**
   * Tracing on (src/observability/tracing.ts): workflow, activity-scheduling and activity spans through
   * `@temporalio/interceptors-opentelemetry`, the workflow's exported through the `exporter` sink. A
   * `workflowBundle` given here must then be built with `workflowBundleOptions({ tracing: true })`.
   * Unset: no interceptor, and the workflow code carries none of OpenTelemetry. @default off
   */
  tracing?: Tracing;
}

export { workflowsPath } from './workflow-bundle';

/**
 * The workflow cache's bound (`WORKER_MAX_CACHED_WORKFLOWS` overrides it per deployment). Each cached workflow
 * holds its own instance of the modules workflow code imports: about 0.42-0.48 MB with this bundle, which
 * carries no zod (bench/memory.ts). 500 keep a worker near 0.25 GB of RSS however many workflows are open
 * (measured: 0.25 GB with 1,000 open); the SDK's default (600 per GiB of heap, about 2,400 here) would grow
 * past 1 GB. An order is hot for seconds, so 500 cover far more orders in flight than a worker runs at once;
 * the rest wait on an operator, a webhook, a poll's timer or a batch window, and an evicted one replays its
 * history on its next task: tens of milliseconds (an open order's ~95 events: ~90 ms), not correctness.
 */
export const DEFAULT_MAX_CACHED_WORKFLOWS = 500;

/**
 * One Worker for workflow tasks plus one per integration queue, all on one connection.
 * Activity workers load no workflow code; the workflow worker runs no activities.
 */
export async function createWorkers(options: WorkerSetOptions): Promise<Worker[]> {
  const { connection, namespace } = options;
  const shutdownGraceTime = options.shutdownGraceTime ?? '10 seconds';
  const dataConverter = options.dataConverter;
  const tracing = options.tracing;
  const workers: Promise<Worker>[] = [];
  if (options.workflows ?? true) {
    // A fresh prebuilt bundle (`npm run build:workflows`) of the same tracing choice, else bundled now.
    const { workflowModules, ...code } = options.workflowBundle
      ? { workflowBundle: options.workflowBundle, workflowModules: undefined }
      : workflowCodeOption({ tracing: !!tracing });
    workers.push(
      Worker.create({
        connection,
        namespace,
        taskQueue: WORKFLOWS_TASK_QUEUE,
        ...code,
        maxCachedWorkflows: options.maxCachedWorkflows ?? DEFAULT_MAX_CACHED_WORKFLOWS,
        shutdownGraceTime,
        dataConverter,
        ...(tracing ? workflowTracing(tracing, workflowModules) : {}),
      }),
    );
  }
  const activityTracing = tracing ? activityTracingOptions(tracing) : {};
  const activities = createActivities(options.runtime);
  for (const name of options.integrations ?? integrationNames) {
    workers.push(
      Worker.create({
        connection,
        namespace,
        taskQueue: integrationTaskQueue(name),
        activities: activities[name],
        // The declared traffic limits (undefined: the SDK's defaults). The queue rate is enforced by the
        // server for every worker of the queue; the concurrency is per process.
        maxTaskQueueActivitiesPerSecond: queueRate(integrations[name].traffic),
        maxConcurrentActivityTaskExecutions: integrations[name].traffic?.concurrency,
        shutdownGraceTime,
        dataConverter,
        ...activityTracing,
      }),
    );
    const rate = integrations[name].traffic?.ratePerSecond;
    if (rate) {
      // The lane's chunks (one activity per `bulkChunkItems(rate)` items): the server lets the fleet start
      // rate / chunk size of them a second, so items stay near the declared rate whatever the process count.
      workers.push(
        Worker.create({
          connection,
          namespace,
          taskQueue: integrationBulkTaskQueue(name),
          activities: { [BULK_LANE_ACTIVITY]: activities[name][BULK_LANE_ACTIVITY] },
          maxTaskQueueActivitiesPerSecond: bulkQueueRatePerSecond(rate),
          maxConcurrentActivityTaskExecutions: integrations[name].traffic?.concurrency,
          shutdownGraceTime,
          dataConverter,
          ...activityTracing,
        }),
      );
    }
  }
  if (options.operations ?? true) {
    // Activities that talk to Temporal itself: a client on the worker's own connection.
    const client = new Client({ connection, namespace, dataConverter });
    workers.push(
      Worker.create({
        connection,
        namespace,
        taskQueue: BULK_RESOLVE_TASK_QUEUE,
        activities: createBulkResolveActivities(client),
        shutdownGraceTime,
        dataConverter,
      }),
    );
  }
  if (options.fileDrops) {
    const fileDropActivities = createFileDropActivities(options.fileDrops);
    const names = options.fileDropIntegrations ?? (Object.keys(fileDropIntegrations) as FileDropIntegrationName[]);
    for (const name of names) {
      workers.push(
        Worker.create({
          connection,
          namespace,
          taskQueue: integrationTaskQueue(name),
          activities: fileDropActivities[name],
          shutdownGraceTime,
          dataConverter,
          ...activityTracing,
        }),
      );
    }
  }
  if (options.reports) {
    workers.push(
      Worker.create({
        connection,
        namespace,
        taskQueue: REPORTS_TASK_QUEUE,
        activities: createReportActivities(options.reports),
        shutdownGraceTime,
        dataConverter,
      }),
    );
  }
  return Promise.all(workers);
}

/* eslint-disable @typescript-eslint/no-require-imports -- loaded only when tracing is on */
type OtelWorker = typeof otelWorkerModule;
const otelWorker = (): OtelWorker => require('@temporalio/interceptors-opentelemetry/lib/worker') as OtelWorker;
/* eslint-enable @typescript-eslint/no-require-imports */

/**
 * The workflow worker's tracing: the `exporter` sink that ends the workflow interceptors' spans in this
 * process's span processor, and (bundling at start) the interceptor module to bundle.
 */
function workflowTracing(tracing: Tracing, workflowModules: string[] | undefined): Partial<WorkerOptions> {
  return {
    sinks: { exporter: otelWorker().makeWorkflowExporter(tracing.processor, tracing.resource) },
    ...(workflowModules ? { interceptors: { workflowModules } } : {}),
  };
}

/**
 * An activity worker's tracing: each execution a `RunActivity:<type>` span, child of the workflow's
 * `StartActivity` span (from the activity's headers), active while the call path runs, so the HTTP
 * attempt's span and the call's log lines hang under it.
 */
function activityTracingOptions(tracing: Tracing): Partial<WorkerOptions> {
  const otel = otelWorker();
  return {
    interceptors: {
      activity: [
        (ctx) => ({
          inbound: new otel.OpenTelemetryActivityInboundInterceptor(ctx, { tracer: tracing.tracer }),
          outbound: new otel.OpenTelemetryActivityOutboundInterceptor(ctx),
        }),
      ],
    },
  };
}

/** Runs every worker until one fails or `shutdown()` is called on them; rejects with the first failure. */
export async function runWorkers(workers: Worker[]): Promise<void> {
  try {
    await Promise.all(workers.map((w) => w.run()));
  } catch (err) {
    for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
    throw err;
  }
}

/**
 * Temporal's queue-wide activity rate for a declaration: its `ratePerSecond`; twice that when the provider's
 * window is declared, because then each process mirrors the window exactly and Temporal's own dispatch
 * (which delivered about 0.8 of its configured rate in bench/email-rate.ts) would otherwise bind first:
 * the queue rate stays a bound on a fleet of workers, the window is the pacer.
 */
export function queueRate(traffic: TrafficSpec | undefined): number | undefined {
  const rate = traffic?.ratePerSecond;
  return rate !== undefined && traffic?.window ? 2 * rate : rate;
}
