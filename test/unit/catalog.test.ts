import { integrations } from '../../src/integrations';
import { catalog, catalogTable } from '../../src/integrations/catalog';

describe('the integration catalog', () => {
  const entries = catalog(Object.values(integrations), { PAYMENTS_URL: 'https://payments.example.com' });

  it('lists every declared endpoint with its activity, profile and budget', () => {
    const payments = entries.find((e) => e.name === 'payments');
    expect(payments).toMatchObject({
      owner: 'checkout-team',
      idempotencyHeader: 'x-correlation-id',
      taskQueue: 'integration-payments',
    });
    expect(payments?.endpoints.map((e) => e.activity)).toEqual(
      (Object.keys(integrations.payments.endpoints) as (keyof typeof integrations.payments.endpoints)[]).map((name) =>
        integrations.payments.activityName(name),
      ),
    );
    expect(payments?.endpoints.find((e) => e.name === 'createPayment')).toMatchObject({
      method: 'POST',
      profile: 'userFlow',
      idempotency: 'key',
      budgetMs: 10_000,
    });
  });

  it('shows where the base URL comes from but never a secret', () => {
    const table = catalogTable(entries);
    expect(table).toContain('Base URL from PAYMENTS_URL (https://payments.example.com)');
    expect(table).toContain('createPayment (paymentsCreatePayment)');
    expect(JSON.stringify(entries)).not.toMatch(/SECRET|secret/);
  });
});
