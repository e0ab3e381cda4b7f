import type { Client } from '@temporalio/client';
import { defineIntegration } from '../../src/integrations/kit/define';
import { payments } from '../../src/integrations/payments/payments.integration';
import { ControlPlane } from '../../src/integrations/runtime/control';
import { captureLogs } from '../support/log-capture';

/** A Temporal client whose server cannot be reached: every call fails the way a dead connection does. */
const unreachable = {
  withDeadline: <T>(_deadline: number, fn: () => Promise<T>) => fn(),
  workflow: {
    getHandle: () => ({
      query: () => Promise.reject(new Error('14 UNAVAILABLE: No connection established')),
      executeUpdate: () => Promise.reject(new Error('14 UNAVAILABLE: No connection established')),
    }),
    signalWithStart: () => Promise.reject(new Error('14 UNAVAILABLE: No connection established')),
  },
} as unknown as Client;

describe('ControlPlane when the control workflow cannot be reached', () => {
  const integration = defineIntegration({
    ...payments,
    name: 'localonly',
    breaker: { failures: 3, cooldownMs: 10_000 },
  });
  let now = 1_000_000;
  const capture = captureLogs();
  const plane = new ControlPlane({ client: unreachable, logger: capture.logger, now: () => now, flushMs: 60_000 });
  afterAll(() => plane.close());

  it('lets calls through rather than stopping the worker', async () => {
    await expect(plane.gate(integration, 'hello')).resolves.toEqual({ proceed: true, probe: false });
    expect(capture.lines().join('\n')).toContain('control state unreadable; using the local breaker');
  });

  it('opens a local breaker after the same number of consecutive failures, and closes it after the cooldown', async () => {
    for (let i = 0; i < 3; i++) plane.record(integration, 'ServerError', false);
    now += 1_001; // past the cached read: the control workflow is asked again, and fails again
    expect(await plane.gate(integration, 'hello')).toMatchObject({ proceed: false, reason: 'CircuitOpen' });
    now += 10_000;
    expect(await plane.gate(integration, 'hello')).toEqual({ proceed: true, probe: false });
  });

  it('does not count answers that say the request was wrong (4xx) towards opening', async () => {
    const other = defineIntegration({ ...integration, name: 'localfour' });
    for (let i = 0; i < 5; i++) plane.record(other, 'RequestRejected', false);
    now += 1_001;
    expect(await plane.gate(other, 'hello')).toEqual({ proceed: true, probe: false });
  });
});
