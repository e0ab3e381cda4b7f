import { trace, type Tracer } from '@opentelemetry/api';
import type * as contextAsyncHooks from '@opentelemetry/context-async-hooks';
import type * as otlpHttp from '@opentelemetry/exporter-trace-otlp-http';
import type * as resources from '@opentelemetry/resources';
import type { Resource } from '@opentelemetry/resources';
import type * as sdkTrace from '@opentelemetry/sdk-trace-base';
import type { SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { Config } from '../config/config';

/** Where spans go: `otlp` (OTLP over HTTP, JSON), `console` (stdout, for a look by hand), `none`. */
export type TracingExporter = Config['TRACING_EXPORTER'];

export interface TracingSettings {
  exporter: TracingExporter;
  /** OTLP/HTTP base URL; spans are posted to `<endpoint>/v1/traces`. */
  endpoint: string;
  /** `service.name` of every span this process exports. */
  serviceName: string;
}

/** The tracing settings of one process from its validated config; `serviceName` when OTEL_SERVICE_NAME is unset. */
export function tracingSettings(
  config: Pick<Config, 'TRACING_EXPORTER' | 'OTEL_EXPORTER_OTLP_ENDPOINT' | 'OTEL_SERVICE_NAME'>,
  serviceName: string,
): TracingSettings {
  return {
    exporter: config.TRACING_EXPORTER,
    endpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT.replace(/\/+$/, ''),
    serviceName: config.OTEL_SERVICE_NAME ?? serviceName,
  };
}

/** A process's tracing once started: what the Temporal interceptors and the call path need. */
export interface Tracing {
  tracer: Tracer;
  /** Also ends the workflow spans the worker's sink receives (`makeWorkflowExporter`). */
  processor: SpanProcessor;
  resource: Resource;
  /** Sends every span ended so far. */
  flush(): Promise<void>;
  /** Flushes, then stops exporting. */
  shutdown(): Promise<void>;
}

/** Spans of this project's own code (client, receiver, call path) are named after it. */
export const TRACER_NAME = 'durable-integrations';

/**
 * Starts OpenTelemetry in this process: a tracer provider registered globally (W3C trace context as the
 * propagator, async-hooks context so log lines and child spans find the active span), its spans batched
 * to the configured exporter. `undefined` when the exporter is `none`: then nothing of the SDK is loaded,
 * no interceptor is installed and no span is made. `exporter` replaces the configured one (tests).
 */
export function startTracing(
  settings: TracingSettings,
  options: { exporter?: SpanExporter } = {},
): Tracing | undefined {
  if (settings.exporter === 'none' && !options.exporter) return undefined;
  // Loaded here, not at the top: a process that does not trace never loads the SDK.
  /* eslint-disable @typescript-eslint/no-require-imports */
  const sdk = require('@opentelemetry/sdk-trace-base') as typeof sdkTrace;
  const { Resource: ResourceClass } = require('@opentelemetry/resources') as typeof resources;
  const { AsyncLocalStorageContextManager } = require('@opentelemetry/context-async-hooks') as typeof contextAsyncHooks;
  /* eslint-enable @typescript-eslint/no-require-imports */
  const exporter = options.exporter ?? configuredExporter(settings, sdk);
  const processor = new sdk.BatchSpanProcessor(exporter, { scheduledDelayMillis: 1_000 });
  const resource = new ResourceClass({ 'service.name': settings.serviceName });
  const provider = new sdk.BasicTracerProvider({ resource, spanProcessors: [processor] });
  // The default propagator of register() is W3C trace context plus baggage: what the Temporal
  // interceptors put in workflow and activity headers, and what `traceparent` carries to providers.
  provider.register({ contextManager: new AsyncLocalStorageContextManager().enable() });
  return {
    tracer: trace.getTracer(TRACER_NAME),
    processor,
    resource,
    flush: () => provider.forceFlush(),
    shutdown: () => provider.shutdown(),
  };
}

function configuredExporter(settings: TracingSettings, sdk: typeof sdkTrace): SpanExporter {
  if (settings.exporter === 'console') return new sdk.ConsoleSpanExporter();
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-http') as typeof otlpHttp;
  return new OTLPTraceExporter({ url: `${settings.endpoint}/v1/traces` });
}

/** The active span's ids, for log lines: `{}` outside a span (and always when tracing is off). */
export function activeTraceIds(): { trace_id?: string; span_id?: string } {
  const span = trace.getActiveSpan();
  if (!span) return {};
  const { traceId, spanId } = span.spanContext();
  return { trace_id: traceId, span_id: spanId };
}
