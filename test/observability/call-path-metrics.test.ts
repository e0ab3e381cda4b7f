import { MockAgent } from 'undici';
import { z } from 'zod';
import { apiKey, defineIntegration, get, post } from '../../src/integrations/kit/define';
import { env, secret } from '../../src/integrations/kit/refs';
import type { Gate } from '../../src/integrations/runtime/call/gate';
import { IntegrationEngine } from '../../src/integrations/runtime/engine';
import type { CallFinished } from '../../src/observability/call-metrics';
import { noCallMetrics } from '../../src/observability/call-metrics';
import type { Logger } from '../../src/observability/logger';

/** The engine's call path reporting into the metrics sink, over undici's MockAgent (no network). */

const ORIGIN = 'http://127.0.0.1:9';
const meter = defineIntegration({
  name: 'meter',
  version: 'v1',
  purpose: 'call-path metrics tests',
  owner: 'tests',
  baseUrl: env('METER_URL'),
  auth: apiKey({ header: 'x-api-key', key: secret('METER_KEY') }),
  idempotency: { header: 'Idempotency-Key', retention: '24 hours' },
  endpoints: {
    read: get('things', { response: z.object({ n: z.number() }), profile: 'background', pricePerCall: 0.01 }),
    write: post('things', { body: z.object({ n: z.number() }), response: z.object({ n: z.number() }) }),
  },
});

const quietLogger = (): Logger => {
  const logger = { info: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined };
  return { ...logger, child: () => logger } as unknown as Logger;
};

describe('the call path’s metrics', () => {
  let agent: MockAgent;
  let seen: CallFinished[];
  const engine = (control?: Gate) =>
    new IntegrationEngine({
      logger: quietLogger(),
      env: { NODE_ENV: 'test', METER_URL: `${ORIGIN}/api/`, METER_KEY: 'k-secret-1' },
      dispatcher: () => agent.get(ORIGIN),
      control,
      metrics: { ...noCallMetrics, callFinished: (event) => seen.push(event) },
    });
  const answer = (status: number, body: object, headers: Record<string, string> = {}) =>
    agent
      .get(ORIGIN)
      .intercept({ path: () => true, method: () => true })
      .reply(status, body, { headers: { 'content-type': 'application/json', ...headers } });

  beforeEach(() => {
    agent = new MockAgent();
    agent.disableNetConnect();
    seen = [];
  });
  afterEach(() => agent.close());

  it('reports an answered call once: ok, sent, timed, priced, with the provider’s quota headers', async () => {
    answer(200, { n: 1 }, { 'x-ratelimit-remaining': '41', 'x-ratelimit-limit': '50' });
    const rt = engine();
    await rt.call(meter, 'read', {}, { attempt: 1 });
    await rt.close();
    expect(seen).toHaveLength(1);
    const [event] = seen;
    expect(typeof event?.attemptMs).toBe('number');
    expect({ ...event, attemptMs: undefined }).toEqual({
      integration: 'meter',
      endpoint: 'read',
      outcome: 'ok',
      attempt: 1,
      sent: true,
      status: 200,
      attemptMs: undefined,
      pricePerCall: 0.01,
      rateLimit: { remaining: 41, limit: 50 },
    });
  });

  it('reports a failed retry with its failure type', async () => {
    answer(503, { error: 'down' });
    const rt = engine();
    await expect(rt.call(meter, 'write', { key: 'k-1', body: { n: 1 } }, { attempt: 2 })).rejects.toMatchObject({
      type: 'ServerError',
    });
    await rt.close();
    expect(seen).toMatchObject([{ endpoint: 'write', outcome: 'ServerError', attempt: 2, sent: true, status: 503 }]);
  });

  it('reports a refused request with its 4xx status and failure type', async () => {
    answer(422, { error: 'bad amount' });
    const rt = engine();
    await expect(rt.call(meter, 'write', { key: 'k-3', body: { n: 1 } }, { attempt: 1 })).rejects.toMatchObject({
      type: 'RequestRejected',
    });
    await rt.close();
    expect(seen).toMatchObject([{ endpoint: 'write', outcome: 'RequestRejected', status: 422, sent: true }]);
  });

  it('reports a call held back by the breaker as not sent, with no attempt duration', async () => {
    const open: Gate = {
      gate: () => Promise.resolve({ proceed: false, reason: 'CircuitOpen', retryAfterMs: 1_000 }),
      record: () => undefined,
    };
    const rt = engine(open);
    await expect(rt.call(meter, 'read', {}, { attempt: 1 })).rejects.toMatchObject({ type: 'CircuitOpen' });
    await rt.close();
    expect(seen).toEqual([
      {
        integration: 'meter',
        endpoint: 'read',
        outcome: 'CircuitOpen',
        attempt: 1,
        sent: false,
        attemptMs: undefined,
        pricePerCall: 0.01,
        rateLimit: undefined,
      },
    ]);
  });

  it('reports bad input as Misconfigured, sent nowhere', async () => {
    const rt = engine();
    await expect(rt.call(meter, 'write', { key: 'k-2', body: { n: 'x' } }, { attempt: 1 })).rejects.toMatchObject({
      type: 'Misconfigured',
    });
    await rt.close();
    expect(seen).toMatchObject([{ endpoint: 'write', outcome: 'Misconfigured', sent: false }]);
  });
});
