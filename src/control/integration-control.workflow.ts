import {
  allHandlersFinished,
  condition,
  continueAsNew,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import {
  acquireProbe,
  controlState,
  forceBreaker,
  reportOutcomes,
  setKillSwitch,
  type ControlConfig,
  type ControlState,
  type OutcomeReport,
} from './messages';
import { IntegrationName, NeedsAttention, WorkflowStage } from '../contracts/search-attributes';
import { incidentNote, providerStatusChanged, type ProviderStatus } from '../contracts/provider-status';

/** A granted probe that never reported back is given up on after this long, so another can go. */
const PROBE_TIMEOUT_MS = 30_000;
const HISTORY_KEEP = 50;

/**
 * The control state of one integration: its circuit breaker and kill switches. Workers report call
 * outcomes (signal `reportOutcomes`) and read the state (query `controlState`, cached for a second);
 * operators force the breaker or flip kill switches with Updates, from the UI or the CLI. Runs forever,
 * continuing as new to keep its history short.
 */
export async function integrationControl(config: ControlConfig, carried?: ControlState): Promise<void> {
  const state: ControlState = carried ?? {
    integration: config.integration,
    breaker: { state: 'closed', consecutiveFailures: 0 },
    config: { failures: config.failures, cooldownMs: config.cooldownMs },
    killSwitch: { integration: false, endpoints: [] },
    history: [],
  };
  const note = (event: string) => {
    state.history.push({ at: new Date(Date.now()).toISOString(), event });
    state.history.splice(0, Math.max(0, state.history.length - HISTORY_KEEP));
  };
  const publish = () => {
    const open =
      state.breaker.state !== 'closed' || state.killSwitch.integration || state.killSwitch.endpoints.length > 0;
    setCurrentDetails(details(state));
    upsertSearchAttributes([
      { key: IntegrationName, value: config.integration },
      {
        key: WorkflowStage,
        value: `breaker:${state.breaker.forced ? `forced-${state.breaker.forced}` : state.breaker.state}`,
      },
      { key: NeedsAttention, value: open },
    ]);
  };
  const open = (why: string) => {
    const now = Date.now();
    state.breaker = {
      ...state.breaker,
      state: 'open',
      openedAt: now,
      openUntil: now + state.config.cooldownMs,
      probeGrantedAt: undefined,
    };
    note(`opened: ${why}`);
    publish();
  };
  const close = (why: string) => {
    state.breaker = {
      state: 'closed',
      consecutiveFailures: 0,
      forced: state.breaker.forced,
      lastFailureType: state.breaker.lastFailureType,
    };
    note(`closed: ${why}`);
    publish();
  };

  setHandler(controlState, () => effective(state));
  setHandler(reportOutcomes, (report: OutcomeReport) => {
    if (report.lastFailureType) state.breaker.lastFailureType = report.lastFailureType;
    for (const outcome of report.outcomes) {
      const current = effective(state).breaker.state;
      if (outcome === 'ok') {
        state.breaker.consecutiveFailures = 0;
        if (current === 'half-open' && report.probe) close('the probe succeeded');
        continue;
      }
      state.breaker.consecutiveFailures++;
      if (current === 'half-open' && report.probe) open(`the probe failed (${report.lastFailureType ?? 'failure'})`);
      else if (current === 'closed' && state.breaker.consecutiveFailures >= state.config.failures) {
        open(`${state.breaker.consecutiveFailures} consecutive failures (${report.lastFailureType ?? 'failure'})`);
      }
    }
    if (report.probeOutcome !== undefined && effective(state).breaker.state === 'half-open') {
      if (report.probeOutcome === 'ok') close('the probe succeeded');
      else if (report.probeOutcome === 'fail') open(`the probe failed (${report.lastFailureType ?? 'failure'})`);
      else {
        state.breaker.probeGrantedAt = undefined;
        note('the probe sent nothing; the next call may probe');
      }
    }
  });
  setHandler(providerStatusChanged, (status: ProviderStatus) => {
    const before = incidentKey(state.provider);
    state.provider = status;
    if (incidentKey(status) !== before) {
      note(incidentNote(status) ?? 'provider reports no open incident');
      publish();
    }
  });
  setHandler(acquireProbe, () => {
    const now = Date.now();
    if (effective(state).breaker.state !== 'half-open') return false;
    if (state.breaker.probeGrantedAt !== undefined && now - state.breaker.probeGrantedAt < PROBE_TIMEOUT_MS)
      return false;
    state.breaker.probeGrantedAt = now;
    note('half-open: one probe let through');
    return true;
  });
  setHandler(
    forceBreaker,
    ({ mode, reason }) => {
      if (mode === 'auto') {
        state.breaker.forced = undefined;
        close(`set back to automatic by an operator: ${reason}`);
      } else {
        state.breaker.forced = mode;
        if (mode === 'open') open(`forced open by an operator: ${reason}`);
        else close(`forced closed by an operator: ${reason}`);
      }
      return effective(state).breaker;
    },
    {
      validator: ({ mode, reason }: { mode: string; reason: unknown }) =>
        validate(['open', 'closed', 'auto'].includes(mode), 'mode must be open, closed or auto', reason),
    },
  );
  setHandler(
    setKillSwitch,
    ({ endpoint, on, reason }) => {
      if (endpoint === undefined) state.killSwitch.integration = on;
      else
        state.killSwitch.endpoints = on
          ? [...new Set([...state.killSwitch.endpoints, endpoint])]
          : state.killSwitch.endpoints.filter((e) => e !== endpoint);
      note(`kill switch ${on ? 'on' : 'off'} for ${endpoint ?? 'the whole integration'}: ${reason}`);
      publish();
      return state.killSwitch;
    },
    { validator: ({ on, reason }) => validate(typeof on === 'boolean', 'on must be true or false', reason) },
  );

  publish();
  // Keep history bounded: hand the state to a fresh run once this one has grown.
  await condition(() => workflowInfo().continueAsNewSuggested || workflowInfo().historyLength > 2_000);
  await condition(allHandlersFinished);
  await continueAsNew<typeof integrationControl>(config, state);
}

/** The state as callers must read it: an open breaker past its cooldown is half-open. */
function effective(state: ControlState): ControlState {
  const b = state.breaker;
  if (b.forced === 'open') return { ...state, breaker: { ...b, state: 'open' } };
  if (b.forced === 'closed') return { ...state, breaker: { ...b, state: 'closed' } };
  if (b.state === 'open' && b.openUntil !== undefined && Date.now() >= b.openUntil)
    return { ...state, breaker: { ...b, state: 'half-open' } };
  return state;
}

/** What identifies the incidents a status says are open: a change of it is worth a history line. */
function incidentKey(status: ProviderStatus | undefined): string {
  return (status?.incidents ?? []).map((i) => `${i.id}:${i.status}:${i.impact}`).join(',');
}

/** What an operator reads in the UI (User Metadata -> Current Details): state, switches, recent history. */
function details(state: ControlState): string {
  const b = state.breaker;
  const until = b.state === 'open' && b.openUntil ? ` until ${new Date(b.openUntil).toISOString()}` : '';
  const switches = state.killSwitch.integration
    ? 'the whole integration'
    : state.killSwitch.endpoints.length > 0
      ? state.killSwitch.endpoints.join(', ')
      : 'none';
  return [
    `**Breaker: ${b.forced ? `forced ${b.forced}` : b.state}${until}** (opens after ${state.config.failures} consecutive failures, cooldown ${state.config.cooldownMs / 1000} s)`,
    `Kill switch on: ${switches}`,
    ...(state.provider
      ? [
          `Provider status page: ${incidentNote(state.provider) ?? `no open incident (${state.provider.description || state.provider.indicator})`}, as of ${state.provider.checkedAt}${state.provider.readError ? `; last read failed: ${state.provider.readError}` : ''}`,
        ]
      : []),
    `Recent: ${
      state.history
        .slice(-5)
        .map((h) => `${h.at} ${h.event}`)
        .join('; ') || 'nothing yet'
    }`,
    'Change it with the Updates `forceBreaker` ({"mode":"open|closed|auto","reason":"…"}) and `setKillSwitch` ({"endpoint":"…","on":true,"reason":"…"}).',
  ].join('\n\n');
}

function validate(ok: boolean, message: string, reason: unknown): void {
  if (!ok) throw new Error(message);
  if (typeof reason !== 'string' || reason.trim() === '')
    throw new Error('give a reason: it is kept in the breaker history');
}
