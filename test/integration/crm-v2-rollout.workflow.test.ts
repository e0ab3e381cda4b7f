import { IntegrationsClient } from '../../src/client';
import { orderWorkflowId } from '../../src/contracts/messages';
import { sandboxAdmin } from '../support/sandbox';
import { testEnv, uniqueId, withWorkers } from '../support/temporal';

/** Runs one order with a given CRM v2 rollout; returns its result, memo and the activities it ran. */
async function order(crmV2: { darkLaunch: boolean; canaryPercent: number }) {
  const client = await IntegrationsClient.connect({ address: testEnv.temporalAddress });
  const orderId = uniqueId('rollout');
  try {
    return await withWorkers(async () => {
      await client.startOrder({ orderId, customerId: 'cus_0031', amount: 800, currency: 'EUR', crmV2 });
      const result = await client.orderResult(orderId);
      const handle = client.temporal.workflow.getHandle(orderWorkflowId(orderId));
      const { memo } = await handle.describe();
      const history = await handle.fetchHistory();
      const activities = (history.events ?? []).flatMap(
        (e) => e.activityTaskScheduledEventAttributes?.activityType?.name ?? [],
      );
      return {
        result,
        darkLaunch: (memo as { darkLaunch?: Record<string, unknown> } | undefined)?.darkLaunch,
        activities,
      };
    });
  } finally {
    await client.close();
  }
}

describe('CRM API v2 rollout in fulfillOrder', () => {
  afterEach(() => sandboxAdmin.clearFaults());

  it('runs v2 in shadow, compares it with v1 and records a match, using v1’s answer', async () => {
    const { result, darkLaunch, activities } = await order({ darkLaunch: true, canaryPercent: 0 });
    expect(result.stage).toBe('completed');
    expect(activities).toEqual(expect.arrayContaining(['crmGetCustomer', 'crmv2GetCustomer']));
    expect(darkLaunch).toEqual({ 'crm.getCustomer v2': { matches: 1, mismatches: 0, failures: 0 } });
  });

  it('records a failing v2 in shadow and completes the order untouched', async () => {
    await sandboxAdmin.fault({ method: 'GET', path: '/crm/v2/customers', fault: 'status', params: { code: 500 } });
    const { result, darkLaunch } = await order({ darkLaunch: true, canaryPercent: 0 });
    expect(result.stage).toBe('completed');
    expect(darkLaunch).toMatchObject({ 'crm.getCustomer v2': { matches: 0, mismatches: 0, failures: 1 } });
  });

  it('reads through v2 for real when the customer falls in the canary share', async () => {
    const { result, activities, darkLaunch } = await order({ darkLaunch: true, canaryPercent: 100 });
    expect(result.stage).toBe('completed');
    expect(activities).toContain('crmv2GetCustomer');
    expect(activities).not.toContain('crmGetCustomer');
    expect(darkLaunch).toBeUndefined(); // nothing to shadow: v2 is the primary
  });
});
