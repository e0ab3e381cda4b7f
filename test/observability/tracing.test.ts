import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import Fastify, { type FastifyInstance } from 'fastify';
import { IntegrationsClient } from '../../src/client';
import { IntegrationEngine } from '../../src/integrations/runtime/engine';
import { startTracing, type Tracing } from '../../src/observability/tracing';
import { workflowBundleOptions } from '../../src/workers/workflow-bundle';
import { captureLogs } from '../support/log-capture';
import { sandboxAdmin } from '../support/sandbox';
import { quietBundlerLogger, TMP_DIR } from '../support/stack';
import { testEnv, uniqueId, withWorkers } from '../support/temporal';
import { waitFor } from '../support/wait';

/** A span as the OTLP/HTTP JSON exporter sends it (ids in hex). */
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  attributes?: { key: string; value: { stringValue?: string; intValue?: number | string; boolValue?: boolean } }[];
}
interface OtlpRequest {
  resourceSpans?: {
    resource?: { attributes?: OtlpSpan['attributes'] };
    scopeSpans?: { spans?: OtlpSpan[] }[];
  }[];
}

/** A real OTLP/HTTP receiver (POST /v1/traces, JSON), keeping every span it is sent. */
async function startOtlpReceiver(): Promise<{
  app: FastifyInstance;
  url: string;
  spans: OtlpSpan[];
  services: Set<string>;
}> {
  const spans: OtlpSpan[] = [];
  const services = new Set<string>();
  const app = Fastify({ bodyLimit: 16 * 1024 * 1024 });
  app.post('/v1/traces', async (request, reply) => {
    for (const rs of (request.body as OtlpRequest).resourceSpans ?? []) {
      const service = rs.resource?.attributes?.find((a) => a.key === 'service.name')?.value.stringValue;
      if (service) services.add(service);
      for (const ss of rs.scopeSpans ?? []) spans.push(...(ss.spans ?? []));
    }
    return reply.code(200).send({});
  });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  return { app, url, spans, services };
}

const attr = (span: OtlpSpan, key: string) => {
  const value = span.attributes?.find((a) => a.key === key)?.value;
  return value?.stringValue ?? value?.intValue ?? value?.boolValue;
};

describe('tracing (OpenTelemetry through the Temporal interceptors, OTLP/HTTP)', () => {
  let otlp: Awaited<ReturnType<typeof startOtlpReceiver>>;
  let tracing: Tracing;
  let bundlePath: string;

  beforeAll(async () => {
    otlp = await startOtlpReceiver();
    tracing = startTracing({ exporter: 'otlp', endpoint: otlp.url, serviceName: 'tracing-test' })!;
    // The tracing variant of the workflow bundle: the OpenTelemetry workflow interceptors included.
    const { code } = await bundleWorkflowCode({
      ...workflowBundleOptions({ tracing: true }),
      logger: quietBundlerLogger,
    });
    bundlePath = join(TMP_DIR, `workflow-bundle-tracing-${process.pid}.js`);
    writeFileSync(bundlePath, code);
    await sandboxAdmin.config({ jobMs: 300 });
  }, 120_000);

  afterAll(async () => {
    await sandboxAdmin.config({ jobMs: 1500 });
    await tracing?.shutdown();
    await otlp?.app.close();
    if (bundlePath) rmSync(bundlePath, { force: true });
  });

  it('leaves OpenTelemetry out of the workflow bundle of a worker that does not trace', () => {
    expect(readFileSync(testEnv.workflowBundle, 'utf8')).not.toContain('@opentelemetry/');
    expect(readFileSync(bundlePath, 'utf8')).toContain('interceptors-opentelemetry/lib/workflow');
  });

  it('links one order into one trace: client, workflow, activity and each provider attempt; traceparent only where declared', async () => {
    const orderId = uniqueId('traced');
    const logs = captureLogs();
    const runtime = new IntegrationEngine({ logger: logs.logger, tracer: tracing.tracer });
    const client = await IntegrationsClient.connect({ address: testEnv.temporalAddress, tracing: true });
    let workflowId = '';
    try {
      await withWorkers(
        async () => {
          const started = await client.startOrder({ orderId, customerId: 'cus_0011', amount: 2500, currency: 'EUR' });
          workflowId = started.workflowId;
          expect(started.charge).toMatchObject({ charged: true });
          expect(await client.orderResult(orderId)).toMatchObject({ stage: 'completed' });
        },
        { runtime, tracing, workflowBundle: { codePath: bundlePath } },
      );
    } finally {
      await client.close();
      await runtime.close();
    }
    await tracing.flush();

    const clientSpan = () =>
      otlp.spans.find(
        (s) => s.name.startsWith('UpdateWithStartWorkflow:') && attr(s, 'temporalWorkflowId') === workflowId,
      );
    // The workflow's span is exported when the workflow ends, through the worker's sink.
    await waitFor(
      'the order’s client and workflow spans at the OTLP receiver',
      async () => {
        await tracing.flush();
        const start = clientSpan();
        return !!start && otlp.spans.some((s) => s.traceId === start.traceId && s.name === 'RunWorkflow:fulfillOrder');
      },
      60_000,
      200,
    );
    const start = clientSpan()!;
    const trace = otlp.spans.filter((s) => s.traceId === start.traceId);
    const byId = new Map(trace.map((s) => [s.spanId, s]));
    const parentOf = (span: OtlpSpan) => (span.parentSpanId ? byId.get(span.parentSpanId) : undefined);
    const only = (name: string) => {
      const found = trace.filter((s) => s.name === name);
      expect(found.map((s) => s.name)).toEqual([name]);
      return found[0]!;
    };

    // client -> workflow -> (schedule) -> activity -> HTTP attempt, each the parent of the next.
    expect(start.parentSpanId ?? '').toBe('');
    const workflow = only('RunWorkflow:fulfillOrder');
    expect(parentOf(workflow)).toBe(start);
    const schedule = only('StartActivity:paymentsCreatePayment');
    expect(parentOf(schedule)).toBe(workflow);
    const activity = only('RunActivity:paymentsCreatePayment');
    expect(parentOf(activity)).toBe(schedule);
    const charge = only('POST payments.createPayment');
    expect(parentOf(charge)).toBe(activity);
    expect({
      method: attr(charge, 'http.request.method'),
      integration: attr(charge, 'integration.name'),
      endpoint: attr(charge, 'integration.endpoint'),
      status: Number(attr(charge, 'http.response.status_code')),
      outcome: attr(charge, 'integration.outcome'),
    }).toEqual({ method: 'POST', integration: 'payments', endpoint: 'createPayment', status: 201, outcome: 'ok' });
    // No URL, body or header value among the attributes.
    expect(JSON.stringify(charge.attributes)).not.toMatch(/https?:\/\/|cus_0011|Bearer|orderId/);

    // The other providers' attempts are in the trace too, under their activities.
    const invoice = trace.find((s) => attr(s, 'integration.name') === 'documents' && s.name.startsWith('POST '));
    expect(invoice).toBeDefined();
    expect(parentOf(invoice!)?.name).toMatch(/^RunActivity:documents/);
    expect(attr(invoice!, 'integration.trace_context_sent')).toBe(false);

    // The sandbox got our trace id from payments (declared propagateTraceContext) and from nobody else.
    const received = (await sandboxAdmin.traces()).filter((t) => t.traceparent?.split('-')[1] === start.traceId);
    expect(received.map((t) => t.route)).toContain('POST /payments/payments');
    expect(
      received.filter((t) => !t.route.startsWith('POST /payments/') && !t.route.startsWith('GET /payments/')),
    ).toEqual([]);
    expect(received.find((t) => t.route === 'POST /payments/payments')?.traceparent).toBe(
      `00-${start.traceId}-${charge.spanId}-01`,
    );

    // The call's log line, written inside the activity's span, names the trace.
    const line = logs
      .records()
      .find((r) => r.msg === 'integration call' && r.integration === 'payments' && r.endpoint === 'createPayment');
    expect(line).toMatchObject({ trace_id: start.traceId, span_id: activity.spanId });
    expect(otlp.services).toContain('tracing-test');
  }, 180_000);
});
