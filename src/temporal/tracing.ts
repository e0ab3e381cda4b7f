import type { WorkflowClientInterceptor } from '@temporalio/client';
import type * as otelClient from '@temporalio/interceptors-opentelemetry/lib/client';

/**
 * The client interceptors of a process that traces: each start, signal, update-with-start and
 * signal-with-start becomes a span (`StartWorkflow:<type>`, `UpdateWithStartWorkflow:<type>`, ...) whose
 * context travels to the workflow in its headers (`@temporalio/interceptors-opentelemetry`). It uses the
 * process's registered OpenTelemetry tracer provider (src/observability/tracing.ts, or the calling
 * service's own). `undefined` when off: no interceptor, and the package is never loaded.
 */
export function tracingClientInterceptors(on: boolean): { workflow: WorkflowClientInterceptor[] } | undefined {
  if (!on) return undefined;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const otel = require('@temporalio/interceptors-opentelemetry/lib/client') as typeof otelClient;
  return { workflow: [new otel.OpenTelemetryWorkflowClientInterceptor()] };
}
