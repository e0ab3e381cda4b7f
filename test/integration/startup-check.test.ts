import { payments } from '../../src/integrations/payments/payments.integration';
import { IntegrationEngine } from '../../src/integrations/runtime/engine';
import { captureLogs } from '../support/log-capture';

describe('the start-up connection check', () => {
  it('reports working credentials', async () => {
    const runtime = new IntegrationEngine({ logger: captureLogs().logger });
    await expect(runtime.hello(payments)).resolves.toEqual({ ok: true, message: 'hello answered' });
    await runtime.close();
  });

  it('says the credentials were rejected, and what to check, when the secret is wrong', async () => {
    const runtime = new IntegrationEngine({
      logger: captureLogs().logger,
      env: { ...process.env, PAYMENTS_CLIENT_SECRET: 'not-the-secret' },
    });
    const result = await runtime.hello(payments);
    expect(result.ok).toBe(false);
    expect(result.message).toContain('token endpoint rejected the client credentials (401)');
    expect(result.message).toContain('the credentials were rejected: check the secrets');
    await runtime.close();
  });

  it('says which variable to set when the base URL is missing', async () => {
    const { PAYMENTS_URL: _unset, ...env } = process.env;
    const runtime = new IntegrationEngine({ logger: captureLogs().logger, env });
    const result = await runtime.hello(payments);
    expect(result).toEqual({
      ok: false,
      message: expect.stringContaining('PAYMENTS_URL is not set') as string,
    });
    await runtime.close();
  });
});
