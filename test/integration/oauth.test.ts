import { payments } from '../../src/integrations/payments/payments.integration';
import { IntegrationEngine } from '../../src/integrations/runtime/engine';
import { captureLogs } from '../support/log-capture';
import { sandboxAdmin } from '../support/sandbox';
import { waitFor } from '../support/wait';

/** Every request that reached the token endpoint, answered or faulted. */
async function tokenRequests(): Promise<number> {
  return (await sandboxAdmin.stats()).requests['POST /payments/oauth/token'] ?? 0;
}

describe('OAuth2 client credentials against the sandbox', () => {
  let runtime: IntegrationEngine;
  beforeEach(() => {
    runtime = new IntegrationEngine({ logger: captureLogs().logger });
  });
  afterEach(async () => {
    await runtime.close();
    await sandboxAdmin.clearFaults();
    await sandboxAdmin.config({ tokenTtlSeconds: 300 });
  });

  it('makes one token request for twenty concurrent calls', async () => {
    const before = await tokenRequests();
    const results = await Promise.all(
      Array.from({ length: 20 }, () => runtime.call(payments, 'hello', {}, { attempt: 1 })),
    );
    expect(results).toEqual(Array.from({ length: 20 }, () => ({ ok: true })));
    expect((await tokenRequests()) - before).toBe(1);
  });

  it('keeps calling with the cached token while the token endpoint is down and the token is still valid', async () => {
    // 30 s tokens are inside the 60 s refresh-ahead window from the start: every call tries a refresh.
    await sandboxAdmin.config({ tokenTtlSeconds: 30 });
    await runtime.call(payments, 'hello', {}, { attempt: 1 });
    await sandboxAdmin.fault({ method: 'POST', path: '/payments/oauth/token', fault: 'status', params: { code: 503 } });
    const before = await tokenRequests();
    for (let i = 0; i < 5; i++) {
      await expect(runtime.call(payments, 'hello', {}, { attempt: 1 })).resolves.toEqual({ ok: true });
    }
    // Background refreshes did go out and fail; no call waited for them or failed because of them.
    await waitFor('a failed background refresh', async () => (await tokenRequests()) > before);
    expect((await sandboxAdmin.stats()).faultsInjected.status).toBeGreaterThan(0);
  });

  it('refreshes in the background ahead of expiry without making a call wait', async () => {
    await sandboxAdmin.config({ tokenTtlSeconds: 30 });
    const before = await tokenRequests();
    await runtime.call(payments, 'hello', {}, { attempt: 1 });
    await runtime.call(payments, 'hello', {}, { attempt: 1 });
    // The first call fetched a token; the second was served from cache and started one refresh.
    await waitFor('the background refresh', async () => (await tokenRequests()) - before === 2);
    await runtime.call(payments, 'hello', {}, { attempt: 1 });
    expect((await tokenRequests()) - before).toBeLessThanOrEqual(3);
  });
});
