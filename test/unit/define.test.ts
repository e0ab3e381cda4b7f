import { z } from 'zod';
import { IntegrationDefinitionError, defineIntegration, get, post } from '../../src/integrations/kit/define';
import { activityOptions, userFlow } from '../../src/integrations/kit/profiles';
import { env } from '../../src/integrations/kit/refs';
import { payments } from '../../src/integrations/payments/payments.integration';

const base = {
  version: 'v1',
  purpose: 'test',
  owner: 'test',
  baseUrl: env('PAYMENTS_URL'),
  auth: { kind: 'none' as const },
};

describe('defineIntegration', () => {
  it('names activities <integration><Endpoint>', () => {
    expect(payments.activityName('createPayment')).toBe('paymentsCreatePayment');
  });

  it('refuses a keyed write whose budget outlives the provider’s key retention', () => {
    expect(() =>
      defineIntegration({
        ...base,
        name: 'shortmemory',
        idempotency: { header: 'Idempotency-Key', retention: '30 minutes' },
        endpoints: { create: post('things', { body: z.object({}), response: z.object({}), profile: 'background' }) },
      }),
    ).toThrow(
      'integration "shortmemory": endpoints.create: its background budget (1 hour) must end inside the provider\'s key retention (30 minutes)',
    );
  });

  it('refuses a keyed write on an integration with no idempotency header', () => {
    expect(() =>
      defineIntegration({
        ...base,
        name: 'nokeys',
        endpoints: { create: post('x', { body: z.object({}), response: z.object({}) }) },
      }),
    ).toThrow(IntegrationDefinitionError);
  });

  it('refuses a lookup that names no endpoint', () => {
    expect(() =>
      defineIntegration({
        ...base,
        name: 'badlookup',
        endpoints: {
          create: post('x', {
            body: z.object({}),
            response: z.object({}),
            idempotency: 'lookup',
            lookup: { endpoint: 'find', input: () => ({}) },
          }),
          read: get('x', { response: z.object({}) }),
        },
      }),
    ).toThrow('endpoints.create.lookup: no endpoint named "find"');
  });
});

describe('activityOptions', () => {
  it('lets Temporal resend an unknown-outcome write only when it carries a key', () => {
    const keyed = activityOptions(userFlow, { taskQueue: 'q', retryUnknownOutcome: true });
    const unkeyed = activityOptions(userFlow, { taskQueue: 'q', retryUnknownOutcome: false });
    expect(keyed.retry?.nonRetryableErrorTypes).not.toContain('OutcomeUnknown');
    expect(unkeyed.retry?.nonRetryableErrorTypes).toContain('OutcomeUnknown');
    expect(keyed).toMatchObject({
      startToCloseTimeout: '4 seconds',
      scheduleToCloseTimeout: '10 seconds',
      taskQueue: 'q',
    });
    expect(keyed.retry?.nonRetryableErrorTypes).toEqual(
      expect.arrayContaining(['RequestRejected', 'InvalidResponse', 'Unauthorized']),
    );
  });
});
