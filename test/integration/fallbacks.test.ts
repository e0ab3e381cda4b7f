import { randomBytes } from 'node:crypto';
import type { ApplicationFailure } from '@temporalio/common';
import { Redis } from 'ioredis';
import { crm, type Customer } from '../../src/integrations/crm/crm.integration';
import { defineIntegration } from '../../src/integrations/kit/define';
import type { GateDecision } from '../../src/integrations/runtime/call/gate';
import type { ControlPlane } from '../../src/control/control-plane';
import { IntegrationEngine } from '../../src/integrations/runtime/engine';
import { MemoryFallbackCache, RedisFallbackCache } from '../../src/integrations/runtime/fallback-cache';
import { captureLogs } from '../support/log-capture';
import { sandboxAdmin } from '../support/sandbox';
import { uniqueId } from '../support/temporal';

/**
 * Fallbacks of user-flow reads over real HTTP against the sandbox's CRM (crm.getCustomer declares
 * fresh 30 s, stale 10 min), with a fake clock shared by the runtime and its in-memory cache.
 */

const FRESH_MS = 30_000;
const STALE_MS = 10 * 60_000;
const ctx = { attempt: 1, workflowId: 'order-fallback-test', activityId: '7' };
const requests = async () => (await sandboxAdmin.stats()).requests['GET /crm/customers/:id'] ?? 0;
const failureOf = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (err: unknown) => err as ApplicationFailure,
  );

/** The same CRM with a declared default answer on getCustomer, as a provider with a safe default would have. */
const placeholder: Customer = { id: 'unknown', name: 'Customer', email: 'unknown@example.invalid', tier: 'free' };
const crmWithDefault = defineIntegration({
  ...crm,
  name: 'crmdefault',
  endpoints: {
    ...crm.endpoints,
    getCustomer: { ...crm.endpoints.getCustomer, fallback: { default: placeholder } },
  },
});

/** A stand-in for the shared controls: every call is held back for `reason`. */
function heldBack(reason: 'CircuitOpen' | 'KillSwitch'): ControlPlane {
  const decision: GateDecision = { proceed: false, reason, retryAfterMs: 60_000 };
  return { gate: () => Promise.resolve(decision), record: () => undefined } as unknown as ControlPlane;
}

function stack(options: { control?: ControlPlane } = {}) {
  const clock = { now: 1_700_000_000_000 };
  const now = () => clock.now;
  const capture = captureLogs();
  const runtime = new IntegrationEngine({
    logger: capture.logger,
    fallbackCache: new MemoryFallbackCache({ now }),
    now,
    ...options,
  });
  const getCustomer = (id: string, integration = crm) =>
    runtime.call(integration, 'getCustomer', { params: { id } }, ctx) as Promise<Customer | null>;
  const degradedLogs = () => capture.records().filter((r) => r.msg === 'degraded answer served (fallback)');
  return { clock, runtime, capture, getCustomer, degradedLogs };
}

afterEach(() => sandboxAdmin.clearFaults());

describe('fallbacks of user-flow reads', () => {
  it('serves a fresh cached answer without sending a request', async () => {
    const { clock, runtime, getCustomer } = stack();
    try {
      const id = uniqueId('cus');
      const before = await requests();
      const first = await getCustomer(id);
      expect(await requests()).toBe(before + 1);
      clock.now += FRESH_MS - 1;
      expect(await getCustomer(id)).toEqual(first);
      expect(await requests()).toBe(before + 1);
      expect(runtime.degradedCount()).toBe(0);
    } finally {
      await runtime.close();
    }
  });

  it('asks the provider when the caller wants a fresh answer (it will write based on it)', async () => {
    const { runtime, getCustomer } = stack();
    try {
      const id = uniqueId('cus');
      await getCustomer(id);
      const before = await requests();
      await runtime.call(crm, 'getCustomer', { params: { id }, fresh: true }, ctx);
      expect(await requests()).toBe(before + 1);
      await sandboxAdmin.fault({ method: 'GET', path: '/crm/customers', fault: 'status', params: { code: 503 } });
      await expect(runtime.call(crm, 'getCustomer', { params: { id }, fresh: true }, ctx)).rejects.toMatchObject({
        type: 'ServerError',
      });
    } finally {
      await runtime.close();
    }
  });

  it('serves a stale answer at once and refreshes it once in the background (stale-while-revalidate)', async () => {
    const { clock, runtime, getCustomer, degradedLogs } = stack();
    try {
      const id = uniqueId('cus');
      const old = await getCustomer(id);
      // The record changes at the provider after it was cached.
      await runtime.call(
        crm,
        'updateCustomer',
        { key: uniqueId('note'), params: { id }, body: { notes: 'changed' } },
        { attempt: 1 },
      );
      clock.now += FRESH_MS + 1_000;
      const before = await requests();
      // Three callers at once: all get the old answer, one refresh goes out.
      const answers = await Promise.all([getCustomer(id), getCustomer(id), getCustomer(id)]);
      expect(answers).toEqual([old, old, old]);
      await runtime.refreshesSettled();
      expect(await requests()).toBe(before + 1);

      // The refreshed answer is fresh again: served without a request.
      expect(await getCustomer(id)).toMatchObject({ id, notes: 'changed' });
      expect(await requests()).toBe(before + 1);
      expect(runtime.degradedCount()).toBe(3);
      expect(degradedLogs()[0]).toMatchObject({
        level: 40,
        integration: 'crm',
        endpoint: 'getCustomer',
        workflowId: ctx.workflowId,
        activityId: ctx.activityId,
        reason: 'stale-while-revalidate',
        answer: 'stale',
        ageMs: FRESH_MS + 1_000,
      });
    } finally {
      await runtime.close();
    }
  });

  it('with the CRM down, keeps serving the stale answer, records it as degraded, and fails once it is too old', async () => {
    const { clock, runtime, capture, getCustomer, degradedLogs } = stack();
    try {
      const id = uniqueId('cus');
      const old = await getCustomer(id);
      await sandboxAdmin.fault({ method: 'GET', path: '/crm/customers', fault: 'status', params: { code: 503 } });
      clock.now += FRESH_MS + 5_000;
      const before = await requests();
      expect(await getCustomer(id)).toEqual(old);
      await runtime.refreshesSettled();
      clock.now += 60_000;
      expect(await getCustomer(id)).toEqual(old); // the failed refresh left the stale answer in place
      await runtime.refreshesSettled();
      expect(await requests()).toBe(before + 2); // one refresh per stale answer served, each answered 503
      expect(runtime.degradedAnswers()).toEqual({ 'crm.getCustomer stale-while-revalidate': 2 });
      expect(degradedLogs().map((r) => r.ageMs)).toEqual([FRESH_MS + 5_000, FRESH_MS + 65_000]);
      expect(
        capture
          .records()
          .filter((r) => r.msg === 'fallback refresh failed; the stale answer is served until it expires'),
      ).toHaveLength(2);

      // Past fresh + stale, nothing usable is cached and there is no default: the failure, as before.
      clock.now += STALE_MS;
      expect(await failureOf(getCustomer(id))).toMatchObject({ type: 'ServerError' });
      expect(runtime.degradedCount()).toBe(2);
      // No degraded record names the customer: ids and answers are not logged with it.
      expect(JSON.stringify(degradedLogs())).not.toContain(id);
    } finally {
      await runtime.close();
    }
  });

  it('serves the declared default when nothing is cached and the CRM is down', async () => {
    const { runtime, getCustomer, degradedLogs } = stack();
    try {
      await sandboxAdmin.fault({ method: 'GET', path: '/crm/customers', fault: 'status', params: { code: 503 } });
      expect(await getCustomer(uniqueId('cus'), crmWithDefault)).toEqual(placeholder);
      expect(runtime.degradedCount('crmdefault')).toBe(1);
      expect(degradedLogs()[0]).toMatchObject({
        integration: 'crmdefault',
        endpoint: 'getCustomer',
        reason: 'ServerError',
        answer: 'default',
      });
    } finally {
      await runtime.close();
    }
  });

  it('throws the failure as before when nothing is cached and no default is declared', async () => {
    const { runtime, getCustomer } = stack();
    try {
      await sandboxAdmin.fault({ method: 'GET', path: '/crm/customers', fault: 'status', params: { code: 503 } });
      expect(await failureOf(getCustomer(uniqueId('cus')))).toMatchObject({ type: 'ServerError' });
      expect(runtime.degradedCount()).toBe(0);
    } finally {
      await runtime.close();
    }
  });

  it('does not take the fallback for a failure that is not the provider being unavailable', async () => {
    const { runtime, getCustomer } = stack();
    try {
      await sandboxAdmin.fault({ method: 'GET', path: '/crm/customers', fault: 'schema-violation' });
      expect(await failureOf(getCustomer(uniqueId('cus'), crmWithDefault))).toMatchObject({ type: 'InvalidResponse' });
      expect(runtime.degradedCount()).toBe(0);
    } finally {
      await runtime.close();
    }
  });

  it('serves the stale answer while the breaker is open, with no request sent', async () => {
    const id = uniqueId('cus');
    const cache = new MemoryFallbackCache({ now: () => 1_000 });
    // Cached by a runtime whose breaker was closed...
    const open = new IntegrationEngine({ logger: captureLogs().logger, fallbackCache: cache, now: () => 1_000 });
    const answer = await open.call(crm, 'getCustomer', { params: { id } }, ctx);
    await open.close();
    // ...then read through one whose breaker is open, once the answer is stale.
    const later = () => 1_000 + FRESH_MS + 1;
    const runtime = new IntegrationEngine({
      logger: captureLogs().logger,
      fallbackCache: cache,
      now: later,
      control: heldBack('CircuitOpen'),
    });
    try {
      const before = await requests();
      expect(await runtime.call(crm, 'getCustomer', { params: { id } }, ctx)).toEqual(answer);
      await runtime.refreshesSettled();
      expect(await requests()).toBe(before);
      expect(runtime.degradedCount()).toBe(1);
    } finally {
      await runtime.close();
    }
  });

  it('serves the declared default while the kill switch is on, with no request sent, and without one fails as before', async () => {
    const { runtime, getCustomer, degradedLogs } = stack({ control: heldBack('KillSwitch') });
    try {
      const before = await requests();
      expect(await getCustomer(uniqueId('cus'), crmWithDefault)).toEqual(placeholder);
      expect(degradedLogs()[0]).toMatchObject({ reason: 'KillSwitch', answer: 'default' });
      expect(await failureOf(getCustomer(uniqueId('cus')))).toMatchObject({ type: 'KillSwitch', nonRetryable: true });
      expect(await requests()).toBe(before);
    } finally {
      await runtime.close();
    }
  });

  it('calls straight through, with no fallback, on a runtime without a fallback cache', async () => {
    const runtime = new IntegrationEngine({ logger: captureLogs().logger });
    try {
      const id = uniqueId('cus');
      const before = await requests();
      await runtime.call(crm, 'getCustomer', { params: { id } }, ctx);
      await runtime.call(crm, 'getCustomer', { params: { id } }, ctx);
      expect(await requests()).toBe(before + 2);
      await sandboxAdmin.fault({ method: 'GET', path: '/crm/customers', fault: 'status', params: { code: 503 } });
      expect(await failureOf(runtime.call(crmWithDefault, 'getCustomer', { params: { id } }, ctx))).toMatchObject({
        type: 'ServerError',
      });
    } finally {
      await runtime.close();
    }
  });

  it('shares answers between workers through Redis: what one fetched, the other serves without a request', async () => {
    const prefix = `di:fallback:test-${randomBytes(6).toString('hex')}:`;
    const worker = () => {
      const cache = new RedisFallbackCache({ url: 'redis://127.0.0.1:6379', logger: captureLogs().logger, prefix });
      return { cache, runtime: new IntegrationEngine({ logger: captureLogs().logger, fallbackCache: cache }) };
    };
    const [a, b] = [worker(), worker()];
    const admin = new Redis('redis://127.0.0.1:6379');
    try {
      await Promise.all([a.cache.whenReady(), b.cache.whenReady()]);
      const id = uniqueId('cus');
      const before = await requests();
      const answer = await a.runtime.call(crm, 'getCustomer', { params: { id } }, ctx);
      expect(await b.runtime.call(crm, 'getCustomer', { params: { id } }, ctx)).toEqual(answer);
      expect(await requests()).toBe(before + 1);
      const keys = await admin.keys(`${prefix}*`);
      expect(keys).toHaveLength(1);
      expect(keys[0]).not.toContain(id);
    } finally {
      const keys = await admin.keys(`${prefix}*`);
      if (keys.length > 0) await admin.del(...keys);
      await admin.quit();
      await Promise.all([a.runtime.close(), b.runtime.close()]);
      await Promise.all([a.cache.close(), b.cache.close()]);
    }
  });
});
