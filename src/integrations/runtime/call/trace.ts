import { SpanKind, SpanStatusCode, type Span, type Tracer } from '@opentelemetry/api';
import type { Outcome, Verdict } from '../classify';
import type { Policy } from './call';

/** W3C trace context header (https://www.w3.org/TR/trace-context/#traceparent-header). */
export const TRACEPARENT = 'traceparent';

/**
 * One span per HTTP attempt (tracing on; the activity's span is its parent), kind CLIENT, named
 * `<METHOD> <integration>.<endpoint>`, with the method, the integration and endpoint names, the host, the
 * status, the failure type and the activity attempt as attributes: never the URL's path or query (IDs,
 * tokens), a body or a header's value. When the integration declares `propagateTraceContext`, the request
 * carries `traceparent` naming this span; otherwise the provider sees nothing of our trace.
 * Placed right before `send`, so the span is the attempt and its classification, credentials already added.
 */
export function traceAttempt(tracer: Tracer): Policy {
  return (call, next) =>
    tracer.startActiveSpan(
      `${call.spec.method} ${call.integration.name}.${call.endpoint}`,
      {
        kind: SpanKind.CLIENT,
        attributes: {
          'http.request.method': call.spec.method,
          'integration.name': call.integration.name,
          'integration.endpoint': call.endpoint,
          'integration.attempt': call.ctx.attempt,
          'integration.trace_context_sent': call.integration.propagateTraceContext === true,
          ...(call.request ? { 'server.address': hostOf(call.request.origin) } : {}),
        },
      },
      async (span) => {
        if (call.integration.propagateTraceContext && call.request) {
          call.request = { ...call.request, headers: { ...call.request.headers, [TRACEPARENT]: traceparentOf(span) } };
        }
        try {
          const verdict = await next(call);
          settle(span, call.outcome, verdict);
          return verdict;
        } catch (err) {
          // The error's message may carry what a log line would scrub: the span gets its name only.
          span.setAttribute('error.type', err instanceof Error ? err.name : 'Error');
          span.setStatus({ code: SpanStatusCode.ERROR });
          throw err;
        } finally {
          span.end();
        }
      },
    );
}

function settle(span: Span, outcome: Outcome | undefined, verdict: Verdict): void {
  if (outcome?.kind === 'response') span.setAttribute('http.response.status_code', outcome.status);
  if (outcome?.kind === 'transport') span.setAttribute('integration.transport_error', outcome.code);
  if (verdict.ok) {
    span.setAttribute('integration.outcome', 'ok');
    return;
  }
  span.setAttributes({ 'integration.outcome': verdict.type, 'error.type': verdict.type });
  span.setStatus({ code: SpanStatusCode.ERROR, message: verdict.type });
}

function hostOf(origin: string): string {
  try {
    return new URL(origin).hostname;
  } catch {
    return 'unknown';
  }
}

/** `00-<trace id>-<span id>-<flags>`: version 00, the span that is the attempt, sampled or not. */
export function traceparentOf(span: Span): string {
  const { traceId, spanId, traceFlags } = span.spanContext();
  return `00-${traceId}-${spanId}-${(traceFlags & 0xff).toString(16).padStart(2, '0')}`;
}
