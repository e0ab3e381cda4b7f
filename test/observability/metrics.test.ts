import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { apiKey, defineIntegration, get } from '../../src/integrations/kit/define';
import { env, secret } from '../../src/integrations/kit/refs';
import { WorkerMetrics, webhookMetrics } from '../../src/observability/metrics';
import { createCertificateAuthority } from '../../src/sandbox/tls';
import { Registry } from 'prom-client';

const shop = defineIntegration({
  name: 'shop',
  version: 'v1',
  purpose: 'metrics tests',
  owner: 'tests',
  baseUrl: env('SHOP_URL'),
  auth: apiKey({ header: 'x-api-key', key: secret('SHOP_KEY') }),
  mtls: { cert: secret('SHOP_CERT'), key: secret('SHOP_CERT_KEY') },
  traffic: { ratePerSecond: 5 },
  endpoints: { list: get('items', { response: z.unknown(), profile: 'background' }) },
});

/** The value of one series in the scrape, or undefined when it is not there. */
function value(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

const quiet = { integrations: [shop], processMetrics: false, env: {} };

describe('WorkerMetrics (the worker’s /metrics)', () => {
  it('counts calls by outcome, retries, unknown outcomes, rejected credentials, cost and quota', async () => {
    const metrics = new WorkerMetrics(quiet);
    const base = { integration: 'shop', endpoint: 'list', sent: true, pricePerCall: 0.25 };
    metrics.calls.callFinished({
      ...base,
      outcome: 'ok',
      attempt: 1,
      attemptMs: 120,
      rateLimit: { remaining: 7, limit: 10 },
    });
    metrics.calls.callFinished({ ...base, outcome: 'OutcomeUnknown', attempt: 2, attemptMs: 4_000 });
    metrics.calls.callFinished({ ...base, outcome: 'Unauthorized', attempt: 1, attemptMs: 30 });
    metrics.calls.callFinished({ ...base, outcome: 'CircuitOpen', attempt: 3, sent: false });
    const text = await metrics.scrape();
    const l = 'integration="shop",endpoint="list"';
    expect(value(text, `integration_calls_total{${l},outcome="ok"}`)).toBe(1);
    expect(value(text, `integration_calls_total{${l},outcome="CircuitOpen"}`)).toBe(1);
    expect(value(text, `integration_requests_sent_total{${l}}`)).toBe(3);
    expect(value(text, `integration_retries_total{${l}}`)).toBe(2);
    expect(value(text, `integration_unknown_outcomes_total{${l}}`)).toBe(1);
    expect(value(text, `integration_credentials_rejected_total{integration="shop",outcome="Unauthorized"}`)).toBe(1);
    expect(value(text, `integration_cost_total{${l}}`)).toBe(0.75); // the held-back call cost nothing
    expect(value(text, `integration_attempt_duration_seconds_count{${l},outcome="failed"}`)).toBe(2);
    expect(value(text, `integration_attempt_duration_seconds_bucket{le="0.25",${l},outcome="ok"}`)).toBe(1);
    expect(value(text, 'integration_rate_limit_remaining{integration="shop"}')).toBe(7);
    expect(value(text, 'integration_rate_limit_limit{integration="shop"}')).toBe(10);
  });

  it('counts provider answers by HTTP status and outcome, and nothing for a call that got no answer', async () => {
    const metrics = new WorkerMetrics(quiet);
    const base = { integration: 'shop', endpoint: 'list', sent: true, attempt: 1 };
    metrics.calls.callFinished({ ...base, outcome: 'ok', status: 200 });
    metrics.calls.callFinished({ ...base, outcome: 'RequestRejected', status: 422 });
    metrics.calls.callFinished({ ...base, outcome: 'RequestRejected', status: 422 });
    metrics.calls.callFinished({ ...base, outcome: 'ok', status: 404 }); // a lookup that found nothing
    metrics.calls.callFinished({ ...base, outcome: 'Timeout' }); // no answer: no status
    const text = await metrics.scrape();
    const l = 'integration="shop",endpoint="list"';
    expect(value(text, `integration_http_responses_total{${l},status="200",outcome="ok"}`)).toBe(1);
    expect(value(text, `integration_http_responses_total{${l},status="422",outcome="RequestRejected"}`)).toBe(2);
    expect(value(text, `integration_http_responses_total{${l},status="404",outcome="ok"}`)).toBe(1);
    expect(text.split('\n').filter((line) => line.startsWith('integration_http_responses_total{'))).toHaveLength(3);
  });

  it('shows the breaker state, counts its transitions and sets lifted kill switches back to 0', async () => {
    const metrics = new WorkerMetrics(quiet);
    const seen = (breaker: 'closed' | 'open' | 'half-open', killSwitches: string[] = []) =>
      metrics.calls.controlState({ integration: 'shop', breaker, killSwitches, source: 'control' });
    seen('closed');
    seen('open', ['list']);
    seen('open', ['list']);
    seen('half-open');
    const text = await metrics.scrape();
    expect(value(text, 'integration_breaker_state{integration="shop",state="half-open"}')).toBe(1);
    expect(value(text, 'integration_breaker_state{integration="shop",state="open"}')).toBe(0);
    expect(value(text, 'integration_breaker_transitions_total{integration="shop",to="open"}')).toBe(1);
    expect(value(text, 'integration_breaker_transitions_total{integration="shop",to="half-open"}')).toBe(1);
    expect(value(text, 'integration_kill_switch{integration="shop",endpoint="list"}')).toBe(0);
  });

  it('reads the limiter at each scrape: rate, waiting callers, cuts as a counter', async () => {
    const state = { declared: 5, rate: 5, waiting: 0, decreases: 0 };
    const metrics = new WorkerMetrics({ ...quiet, limiter: { state: () => state } });
    metrics.calls.limiterAdmission({ integration: 'shop', admitted: true, waitedMs: 300 });
    metrics.calls.limiterAdmission({ integration: 'shop', admitted: false, waitedMs: 0 });
    Object.assign(state, { rate: 2.5, waiting: 3, decreases: 1 });
    let text = await metrics.scrape();
    expect(value(text, 'integration_limiter_rate{integration="shop"}')).toBe(2.5);
    expect(value(text, 'integration_declared_rate{integration="shop"}')).toBe(5);
    expect(value(text, 'integration_limiter_waiting{integration="shop"}')).toBe(3);
    expect(value(text, 'integration_limiter_cuts_total{integration="shop"}')).toBe(1);
    expect(value(text, 'integration_limiter_wait_seconds_count{integration="shop"}')).toBe(1);
    expect(value(text, 'integration_limiter_refused_total{integration="shop"}')).toBe(1);
    state.decreases = 3;
    text = await metrics.scrape();
    expect(value(text, 'integration_limiter_cuts_total{integration="shop"}')).toBe(3);
  });

  it('reports the parked count from visibility, which falls when workflows are resolved', async () => {
    let parked = 4;
    const metrics = new WorkerMetrics({ ...quiet, countParked: () => Promise.resolve(parked), parkedCacheMs: 0 });
    expect(value(await metrics.scrape(), 'integration_parked_workflows{integration="shop"}')).toBe(4);
    parked = 1;
    expect(value(await metrics.scrape(), 'integration_parked_workflows{integration="shop"}')).toBe(1);
  });

  it('counts the workflows parked for longer than the threshold, asking visibility with the cut-off time', async () => {
    const asked: { integration: string; before: Date }[] = [];
    const metrics = new WorkerMetrics({
      ...quiet,
      countParkedBefore: (integration, before) => {
        asked.push({ integration, before });
        return Promise.resolve(3);
      },
      parkedTooLongAfter: '2 hours',
      parkedCacheMs: 0,
    });
    const scrapedAt = Date.now();
    expect(value(await metrics.scrape(), 'integration_parked_too_long_workflows{integration="shop"}')).toBe(3);
    expect(asked.map((a) => a.integration)).toEqual(['shop']);
    expect(Math.abs(scrapedAt - 7_200_000 - asked[0]!.before.getTime())).toBeLessThan(60_000);
  });

  it('leaves the parked series out, rather than saying 0, when visibility cannot answer', async () => {
    const metrics = new WorkerMetrics({ ...quiet, countParked: () => Promise.reject(new Error('down')) });
    expect(await metrics.scrape()).not.toMatch(/^integration_parked_workflows\{/m);
  });

  it('dates secret files and client certificates, exporting names and never values', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'metrics-secrets-'));
    try {
      const ca = await createCertificateAuthority({ days: 10 });
      writeFileSync(join(dir, 'key'), 'sk_live_supersecret');
      writeFileSync(join(dir, 'cert.pem'), ca.cert);
      utimesSync(join(dir, 'key'), 1_700_000_000, 1_700_000_000);
      const metrics = new WorkerMetrics({
        ...quiet,
        env: { SHOP_KEY_FILE: join(dir, 'key'), SHOP_CERT_FILE: join(dir, 'cert.pem') },
      });
      const text = await metrics.scrape();
      expect(
        value(text, 'integration_secret_file_modified_timestamp_seconds{integration="shop",secret="SHOP_KEY"}'),
      ).toBe(1_700_000_000);
      const expiry = value(text, 'integration_client_certificate_expiry_timestamp_seconds{integration="shop"}');
      const inDays = ((expiry ?? 0) - Date.now() / 1000) / 86_400;
      expect(inDays).toBeGreaterThan(8);
      expect(inDays).toBeLessThanOrEqual(10);
      expect(text).not.toContain('supersecret');
      // No Temporal certificate configured: no series (an unlabelled gauge would read 0 and fire the alert).
      expect(text).not.toMatch(/^worker_temporal_certificate_expiry_timestamp_seconds/m);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  describe('with Core’s endpoint', () => {
    let server: Server;
    let url: string;
    beforeAll(async () => {
      server = createServer((_req, res) =>
        res.end('# TYPE temporal_num_pollers gauge\ntemporal_num_pollers{task_queue="integration-shop"} 2\n'),
      );
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
    });
    afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

    it('appends Core’s metrics to its own, and says whether Core answered', async () => {
      const text = await new WorkerMetrics({ ...quiet, coreMetricsUrl: url }).scrape();
      expect(value(text, 'temporal_num_pollers{task_queue="integration-shop"}')).toBe(2);
      expect(value(text, 'temporal_core_metrics_up')).toBe(1);
      expect(text).toContain('# TYPE integration_calls_total counter');
    });

    it('still answers with its own when Core does not', async () => {
      const text = await new WorkerMetrics({ ...quiet, coreMetricsUrl: 'http://127.0.0.1:9/metrics' }).scrape();
      expect(value(text, 'temporal_core_metrics_up')).toBe(0);
      expect(text).toContain('# TYPE integration_calls_total counter');
    });
  });

  it('defines the receiver’s webhook metrics on a registry of its own', async () => {
    const registry = new Registry();
    const webhooks = webhookMetrics(registry);
    webhooks.received.inc({ provider: 'documents' });
    webhooks.rejected.inc({ provider: 'documents', reason: 'signature' });
    webhooks.ackLatency.observe({ provider: 'documents', status: '4xx' }, 0.004);
    const text = await registry.metrics();
    expect(value(text, 'webhook_received_total{provider="documents"}')).toBe(1);
    expect(value(text, 'webhook_rejected_total{provider="documents",reason="signature"}')).toBe(1);
    expect(value(text, 'webhook_ack_duration_seconds_count{provider="documents",status="4xx"}')).toBe(1);
  });
});
