import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { MockAgent } from 'undici';
import { z } from 'zod';
import { ConfigError, loadConfig } from '../../src/config/config';
import {
  apiKey,
  defineIntegration,
  get,
  type EndpointSpec,
  type IntegrationSpec,
} from '../../src/integrations/kit/define';
import { env, secret } from '../../src/integrations/kit/refs';
import { IntegrationEngine } from '../../src/integrations/runtime/engine';
import type { Logger } from '../../src/observability/logger';
import { startTracing, tracingSettings } from '../../src/observability/tracing';
import { workflowBundleOptions, workflowSourcesHash } from '../../src/workers/workflow-bundle';

describe('tracing configuration', () => {
  it('is off by default, with the OTLP default endpoint and a service name per process', () => {
    const config = loadConfig({});
    expect(config.TRACING_EXPORTER).toBe('none');
    expect(tracingSettings(config, 'durable-integrations-worker')).toEqual({
      exporter: 'none',
      endpoint: 'http://localhost:4318',
      serviceName: 'durable-integrations-worker',
    });
    expect(startTracing(tracingSettings(config, 'x'))).toBeUndefined();
  });

  it('reads the exporter, the collector URL (trailing slash dropped) and OTEL_SERVICE_NAME', () => {
    const config = loadConfig({
      TRACING_EXPORTER: 'otlp',
      OTEL_EXPORTER_OTLP_ENDPOINT: 'https://otel.internal:4318/',
      OTEL_SERVICE_NAME: 'checkout-integrations',
    });
    expect(tracingSettings(config, 'durable-integrations-worker')).toEqual({
      exporter: 'otlp',
      endpoint: 'https://otel.internal:4318',
      serviceName: 'checkout-integrations',
    });
  });

  it('names a bad exporter or collector URL and says what to write', () => {
    let error: unknown;
    try {
      loadConfig({ TRACING_EXPORTER: 'jaeger', OTEL_EXPORTER_OTLP_ENDPOINT: 'otel:4318' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).toContain('TRACING_EXPORTER="jaeger": expected otlp, console or none');
    expect(message).toContain('OTEL_EXPORTER_OTLP_ENDPOINT="otel:4318": expected the http(s) base URL');
    expect(() => loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'ftp://otel.internal' })).toThrow(
      /OTEL_EXPORTER_OTLP_ENDPOINT="ftp:\/\/otel.internal": expected the http\(s\) base URL/,
    );
  });
});

describe('the workflow bundle and tracing', () => {
  it('bundles the OpenTelemetry workflow interceptors only when tracing, under another hash', () => {
    expect(workflowBundleOptions()).not.toHaveProperty('workflowInterceptorModules');
    expect(workflowBundleOptions({ tracing: true }).workflowInterceptorModules).toEqual([
      expect.stringContaining('interceptors-opentelemetry') as string,
    ]);
    expect(workflowSourcesHash({ tracing: true })).not.toBe(workflowSourcesHash());
  });
});

describe('propagateTraceContext in a declaration', () => {
  const spec = (extra: object) =>
    ({
      name: 'shop',
      version: 'v1',
      purpose: 'tracing tests',
      owner: 'tests',
      baseUrl: env('SHOP_URL'),
      auth: apiKey({ header: 'x-api-key', key: secret('SHOP_KEY') }),
      endpoints: { list: get('items', { response: z.object({ n: z.number() }), profile: 'background' }) },
      ...extra,
    }) as unknown as IntegrationSpec<Record<string, EndpointSpec>>;

  it('must be a boolean', () => {
    expect(() => defineIntegration(spec({ propagateTraceContext: 'yes' }))).toThrow(
      'integration "shop": propagateTraceContext: expected true (send W3C traceparent to this provider) or false (the default), got "yes"',
    );
    expect(() => defineIntegration(spec({ propagateTraceContext: true }))).not.toThrow();
  });
});

describe('the call path’s attempt span', () => {
  const ORIGIN = 'http://127.0.0.1:9';
  const declare = (name: string, propagate: boolean) =>
    defineIntegration({
      name,
      version: 'v1',
      purpose: 'tracing tests',
      owner: 'tests',
      baseUrl: env('SHOP_URL'),
      auth: apiKey({ header: 'x-api-key', key: secret('SHOP_KEY') }),
      propagateTraceContext: propagate,
      endpoints: {
        find: get('customers/:id', {
          params: z.object({ id: z.string() }),
          response: z.object({ n: z.number() }),
          profile: 'background',
        }),
      },
    });
  const quietLogger = (): Logger => {
    const logger = { info: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined };
    return { ...logger, child: () => logger } as unknown as Logger;
  };
  let agent: MockAgent;
  let exporter: InMemorySpanExporter;
  let provider: BasicTracerProvider;
  let sent: Record<string, string>[];
  const engine = () =>
    new IntegrationEngine({
      logger: quietLogger(),
      env: { NODE_ENV: 'test', SHOP_URL: `${ORIGIN}/api/`, SHOP_KEY: 'k-secret-1' },
      dispatcher: () => agent.get(ORIGIN),
      tracer: provider.getTracer('test'),
    });
  const answer = (status: number, body: object) =>
    agent
      .get(ORIGIN)
      .intercept({
        path: () => true,
        method: () => true,
        headers: (headers) => {
          sent.push(headers);
          return true;
        },
      })
      .reply(status, body, { headers: { 'content-type': 'application/json' } });

  beforeEach(() => {
    agent = new MockAgent();
    agent.disableNetConnect();
    exporter = new InMemorySpanExporter();
    provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
    sent = [];
  });
  afterEach(async () => {
    await agent.close();
    await provider.shutdown();
  });

  it('is one CLIENT span per attempt, with names and status but no URL, id or secret; traceparent when declared', async () => {
    answer(200, { n: 1 });
    const rt = engine();
    await rt.call(declare('shop', true), 'find', { params: { id: 'cus_secret_42' } }, { attempt: 2 });
    await rt.close();
    const [span] = exporter.getFinishedSpans();
    expect(exporter.getFinishedSpans()).toHaveLength(1);
    expect(span!.name).toBe('GET shop.find');
    expect(span!.attributes).toEqual({
      'http.request.method': 'GET',
      'integration.name': 'shop',
      'integration.endpoint': 'find',
      'integration.attempt': 2,
      'integration.trace_context_sent': true,
      'server.address': '127.0.0.1',
      'http.response.status_code': 200,
      'integration.outcome': 'ok',
    });
    const { traceId, spanId } = span!.spanContext();
    expect(sent[0]?.traceparent).toBe(`00-${traceId}-${spanId}-01`);
  });

  it('sends no traceparent for an integration that does not declare it, and marks a failed attempt', async () => {
    answer(503, { error: 'down' });
    const rt = engine();
    await expect(rt.call(declare('other', false), 'find', { params: { id: 'c1' } }, { attempt: 1 })).rejects.toThrow();
    await rt.close();
    expect(sent[0]).toBeDefined();
    expect(sent[0]).not.toHaveProperty('traceparent');
    const [span] = exporter.getFinishedSpans();
    expect(span!.attributes).toMatchObject({
      'integration.trace_context_sent': false,
      'http.response.status_code': 503,
      'integration.outcome': 'ServerError',
      'error.type': 'ServerError',
    });
    expect(span!.status.code).toBe(2); // ERROR
  });
});
