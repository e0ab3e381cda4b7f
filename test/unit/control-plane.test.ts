import type { Client } from '@temporalio/client';
import { defineIntegration } from '../../src/integrations/kit/define';
import { payments } from '../../src/integrations/payments/payments.integration';
import { ControlPlane } from '../../src/control/control-plane';
import { captureLogs } from '../support/log-capture';
import { waitFor } from '../support/wait';

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
    breaker: { failures: 3, cooldown: 10_000 },
  });
  let now = 1_000_000;
  const capture = captureLogs();
  const plane = new ControlPlane({ client: unreachable, logger: capture.logger, now: () => now, flush: 60_000 });
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

/** A control workflow that answers: records what the plane sends, and lets a test say the state. */
function reachable(state: () => unknown) {
  const reports: { probe?: boolean; probeOutcome?: string; outcomes: string[] }[] = [];
  let queries = 0;
  const client = {
    withDeadline: <T>(_deadline: number, fn: () => Promise<T>) => fn(),
    workflow: {
      getHandle: () => ({
        query: () => {
          queries += 1;
          return Promise.resolve(state());
        },
        executeUpdate: () => Promise.resolve(true),
      }),
      signalWithStart: (_type: string, options: { signalArgs: [(typeof reports)[number]] }) => {
        reports.push(options.signalArgs[0]);
        return Promise.resolve();
      },
    },
  } as unknown as Client;
  return { client, reports, queries: () => queries };
}

describe('ControlPlane reporting to a reachable control workflow', () => {
  const integration = defineIntegration({ ...payments, name: 'reported', breaker: { failures: 3, cooldown: 1_000 } });
  const closed = {
    integration: 'reported',
    breaker: { state: 'closed', consecutiveFailures: 0 },
    config: { failures: 3, cooldownMs: 1_000 },
    killSwitch: { integration: false, endpoints: [] },
    history: [],
  };
  const capture = captureLogs();

  it('reports the probe on its own, so another call answering cannot close the breaker in its name', async () => {
    const control = reachable(() => closed);
    const plane = new ControlPlane({ client: control.client, logger: capture.logger, flush: 60_000 });
    plane.record(integration, undefined, false); // an unrelated call answered
    plane.record(integration, 'ServerError', true); // the probe failed
    await plane.flush();
    await plane.close();
    const probeReport = control.reports.find((r) => r.probeOutcome !== undefined);
    expect(probeReport).toMatchObject({ probeOutcome: 'fail' });
    expect(control.reports.every((r) => r.probe === undefined)).toBe(true);
  });

  it('says a probe that sent nothing is void, so the next call may probe', async () => {
    const control = reachable(() => closed);
    const plane = new ControlPlane({ client: control.client, logger: capture.logger, flush: 60_000 });
    plane.record(integration, 'AuthUnavailable', true);
    await plane.close();
    expect(control.reports).toEqual([{ outcomes: [], probeOutcome: 'void' }]);
  });

  it('does not count refusals before sending (breaker open, kill switch) at all', async () => {
    const control = reachable(() => closed);
    const plane = new ControlPlane({ client: control.client, logger: capture.logger, flush: 60_000 });
    for (let i = 0; i < 5; i++) plane.record(integration, 'CircuitOpen', false);
    await plane.close();
    expect(control.reports).toEqual([]);
  });

  it('reads the state again when its own report lands while a read is in flight: that answer may predate it', async () => {
    let now = 1_000;
    const open = { ...closed, breaker: { state: 'open', consecutiveFailures: 3, openUntil: 1_000_000 } };
    let current: unknown = closed;
    const releases: (() => void)[] = [];
    let hold = false;
    const control = reachable(() => {
      const answer = current; // what the workflow holds when the query arrives
      return hold ? new Promise((resolve) => releases.push(() => resolve(answer))) : answer;
    });
    const plane = new ControlPlane({ client: control.client, logger: capture.logger, now: () => now, flush: 60_000 });
    await plane.gate(integration, 'hello'); // cold read: closed
    now += 1_001; // stale: the next gate serves the cached copy and starts a read
    hold = true;
    await plane.gate(integration, 'hello');
    for (let i = 0; i < 3; i++) plane.record(integration, 'ServerError', false);
    current = open; // the workflow opens on our report...
    await plane.flush(); // ...which lands while the first read, asked before it, is still in flight
    hold = false;
    releases.shift()?.(); // the old read answers "closed"
    await waitFor('the state read again after the report', async () => {
      const decision = await plane.gate(integration, 'hello');
      return !decision.proceed;
    });
    expect(await plane.gate(integration, 'hello')).toMatchObject({ proceed: false, reason: 'CircuitOpen' });
    await plane.close();
  });

  it('keeps serving the cached state after a report: no call waits for the read that follows it', async () => {
    let now = 1_000;
    let release: (() => void) | undefined;
    let slow = false;
    const control = reachable(() => (slow ? new Promise((resolve) => (release = () => resolve(closed))) : closed));
    const plane = new ControlPlane({
      client: control.client,
      logger: capture.logger,
      now: () => now,
      flush: 60_000,
      readTimeout: 60_000,
    });
    await plane.gate(integration, 'hello'); // the first, cold read
    slow = true; // every read from now on hangs until released
    plane.record(integration, 'ServerError', false);
    await plane.flush(); // the report marks the state stale and reads it again in the background
    now += 10;
    const gated = await Promise.race([
      plane.gate(integration, 'hello'),
      new Promise((resolve) => setImmediate(() => resolve('waited'))),
    ]);
    expect(gated).toEqual({ proceed: true, probe: false });
    release?.();
    await plane.close();
  });

  it('refuses calls once its own failures opened the breaker, though the copy it holds still says closed', async () => {
    let now = 1_000;
    const control = reachable(() => closed); // every read answers a state from before our report
    const plane = new ControlPlane({ client: control.client, logger: capture.logger, now: () => now, flush: 60_000 });
    expect(await plane.gate(integration, 'hello')).toEqual({ proceed: true, probe: false });
    for (let i = 0; i < 3; i++) plane.record(integration, 'ServerError', false);
    expect(await plane.gate(integration, 'hello')).toMatchObject({ proceed: false, reason: 'CircuitOpen' });
    now += 1_001; // the cooldown (1 s) is over: the shared state decides again
    expect(await plane.gate(integration, 'hello')).toEqual({ proceed: true, probe: false });
    await plane.close();
  });

  it('lets calls out when the shared breaker closed after its own failures, or is forced closed', async () => {
    let now = Date.parse('2026-12-01T10:00:00.000Z');
    let state: unknown = closed;
    const control = reachable(() => state);
    const plane = new ControlPlane({
      client: control.client,
      logger: capture.logger,
      now: () => now,
      refresh: 1,
      flush: 60_000,
    });
    for (let i = 0; i < 3; i++) plane.record(integration, 'ServerError', false);
    state = {
      ...closed,
      history: [{ at: new Date(now + 10).toISOString(), event: 'closed: set back to automatic by an operator: INC-1' }],
    };
    now += 20;
    await plane.gate(integration, 'hello'); // the stale copy is served while the new one is read
    await waitFor('the new state', async () => (await plane.gate(integration, 'hello')).proceed);
    for (let i = 0; i < 3; i++) plane.record(integration, 'ServerError', false);
    state = { ...closed, breaker: { ...closed.breaker, forced: 'closed' } };
    now += 20;
    await plane.gate(integration, 'hello');
    await waitFor('the forced state', async () => (await plane.gate(integration, 'hello')).proceed);
    await plane.close();
  });
});
