import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { Duration } from '@temporalio/common';
import type { CallMetrics } from '../observability/call-metrics';
import type { Logger } from '../observability/logger';
import {
  acquireProbe,
  controlState,
  controlWorkflowId,
  reportOutcomes,
  type ControlConfig,
  type ControlState,
  type OutcomeReport,
} from './messages';
import { WORKFLOWS_TASK_QUEUE } from '../contracts/task-queues';
import { incidentNote, isMajor } from '../contracts/provider-status';
import type { Integration } from '../integrations/kit/define';
import { semanticsOf } from '../integrations/kit/failures';
import type { Gate, GateDecision } from '../integrations/runtime/call/gate';
import { durationMs } from '../integrations/kit/duration';

export interface ControlPlaneOptions {
  client: Client;
  logger: Logger;
  /** How long a worker trusts its cached copy of the control state. @default 1 second */
  refresh?: Duration;
  /** Outcomes are sent in batches at most this often. @default 250 ms */
  flush?: Duration;
  /**
   * How long a read of the control state may take before the local breaker answers instead: a query
   * waits for a worker to run the control workflow, and none may be running. @default 2 seconds
   */
  readTimeout?: Duration;
  /** Told the state of each integration at every read (the breaker state and kill-switch gauges). @default none */
  metrics?: CallMetrics;
  now?: () => number;
}

const DEFAULT_FAILURES = 10;
/** A background read of the control state gives up after this long, ms. */
const BACKGROUND_READ_MS = 10_000;
const DEFAULT_COOLDOWN_MS = 60_000;

/**
 * A worker's view of the shared control state (circuit breakers, kill switches) held by each
 * integration's `integrationControl` workflow. Reads are cached for `refresh`, so every worker sees a
 * change within about that long; outcomes are reported in batches. When the control workflow cannot be
 * reached, a local breaker with the same thresholds takes over: the worker keeps working, alone.
 * The local breaker also covers the worker's own cached copy: once this worker's own failures open it,
 * it refuses calls until its cooldown ends, unless the shared state says the breaker closed since (an
 * operator, or a probe) or is forced closed; a copy read before its report landed cannot let calls out.
 */
export class ControlPlane implements Gate {
  private readonly cache = new Map<string, { state: ControlState | null; fetchedAt: number }>();
  private readonly refreshing = new Map<string, Promise<ControlState | null>>();
  /** Reports and probes of ours per integration, counted: a read that started before one is not fresh. */
  private readonly changes = new Map<string, number>();
  private readonly pending = new Map<string, { integration: Integration; report: OutcomeReport }>();
  private readonly local = new Map<string, { failures: number; openedAt: number; openUntil: number }>();
  /** Integrations whose half-open probe this worker is asking for: other calls fail fast meanwhile. */
  private readonly probing = new Set<string>();
  private flushTimer: NodeJS.Timeout | undefined;
  private refreshTimer: NodeJS.Timeout | undefined;
  private readonly now: () => number;

  private readonly refreshMs: number;
  private readonly flushMs: number;
  private readonly readTimeoutMs: number;

  constructor(private readonly options: ControlPlaneOptions) {
    this.now = options.now ?? Date.now;
    this.refreshMs = durationMs(options.refresh ?? '1 second');
    this.flushMs = durationMs(options.flush ?? '250 ms');
    this.readTimeoutMs = durationMs(options.readTimeout ?? '2 seconds');
  }

  /** May a call to this endpoint go out now? */
  async gate(integration: Integration, endpoint: string): Promise<GateDecision> {
    const state = await this.state(integration);
    const now = this.now();
    if (!state) return this.localGate(integration, now);
    // What the provider's status page says, for the call's failure messages and `preOpenBreaker`.
    const note = incidentNote(state.provider);
    const provider = note ? { provider: { note, major: state.provider!.incidents.some(isMajor) } } : {};
    if (state.killSwitch.integration || state.killSwitch.endpoints.includes(endpoint)) {
      return { proceed: false, reason: 'KillSwitch', retryAfterMs: 5_000, ...provider };
    }
    const position = breakerPosition(state, now);
    if (position === 'closed') {
      // Our own failures opened it since the shared state last closed: the copy we hold predates our report.
      const local = this.local.get(integration.name);
      if (state.breaker.forced !== 'closed' && local && now < local.openUntil && local.openedAt > lastClosedAt(state))
        return { proceed: false, reason: 'CircuitOpen', retryAfterMs: local.openUntil - now, ...provider };
      return { proceed: true, probe: false, ...provider };
    }
    if (position === 'open') {
      const openUntil = state.breaker.openUntil ?? now;
      return { proceed: false, reason: 'CircuitOpen', retryAfterMs: Math.max(openUntil - now, 1_000), ...provider };
    }
    // Half-open: exactly one caller across all workers gets the probe.
    const granted = await this.probe(integration);
    return granted
      ? { proceed: true, probe: true, ...provider }
      : { proceed: false, reason: 'CircuitOpen', retryAfterMs: 2_000, ...provider };
  }

  /**
   * Records a call's outcome (classified failure type, or undefined for an answer). What it says about
   * the provider comes from the failure table: `neutral` failures (nothing reached the provider) are not
   * counted. The half-open probe's outcome is reported on its own, at once, so no other call's answer
   * can close (or reopen) the breaker in its name.
   */
  record(integration: Integration, failureType: string | undefined, probe: boolean): void {
    const health = failureType === undefined ? 'answered' : semanticsOf(failureType).breaker;
    if (health !== 'neutral') this.recordLocal(integration, health === 'unwell');
    if (!probe && health === 'neutral') return;
    const entry = this.pending.get(integration.name) ?? { integration, report: { outcomes: [] } };
    if (health === 'unwell') entry.report.lastFailureType = failureType;
    if (probe) {
      entry.report.probeOutcome = health === 'unwell' ? 'fail' : health === 'answered' ? 'ok' : 'void';
      this.pending.set(integration.name, entry);
      void this.flush();
      return;
    }
    entry.report.outcomes.push(health === 'unwell' ? 'fail' : 'ok');
    this.pending.set(integration.name, entry);
    this.flushTimer ??= setTimeout(() => void this.flush(), this.flushMs);
  }

  /** Sends every pending batch now. */
  async flush(): Promise<void> {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    const batches = [...this.pending.values()];
    this.pending.clear();
    await Promise.all(
      batches.map(async ({ integration, report }) => {
        try {
          await this.options.client.workflow.signalWithStart('integrationControl', {
            taskQueue: WORKFLOWS_TASK_QUEUE,
            workflowId: controlWorkflowId(integration.name),
            args: [controlConfigOf(integration)],
            signal: reportOutcomes,
            signalArgs: [report],
          });
          this.markStale(integration);
        } catch (err) {
          this.options.logger.warn(
            { integration: integration.name, error: (err as Error).message },
            'could not report outcomes to the control workflow; using the local breaker',
          );
        }
      }),
    );
  }

  async close(): Promise<void> {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    if (this.refreshTimer) clearInterval(this.refreshTimer);
    await this.flush();
  }

  /**
   * The control state as this worker knows it. Fresh: from cache. Stale: the cached copy at once while one
   * background read refreshes it (a read can stall for seconds, e.g. while the server gives up on a dead
   * worker's sticky queue; a call must not wait for that). Never read: wait up to `readTimeout`, then
   * answer with the local breaker.
   */
  private async state(integration: Integration): Promise<ControlState | null> {
    const cached = this.cache.get(integration.name);
    if (cached && this.now() - cached.fetchedAt < this.refreshMs) return cached.state;
    const refreshing = this.refresh(integration);
    if (cached) return cached.state;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<null>((resolve) => {
      timer = setTimeout(() => resolve(null), this.readTimeoutMs);
    });
    try {
      return await Promise.race([refreshing, timedOut]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Keeps every integration's state read in the background, every `refresh`: calls find it cached and
   * a change reaches this worker within about `refresh` plus one read, whether or not calls are made.
   */
  prefetch(integrations: Integration[]): void {
    const readAll = () => integrations.forEach((integration) => void this.refresh(integration));
    readAll();
    this.refreshTimer = setInterval(readAll, this.refreshMs);
    this.refreshTimer.unref();
  }

  /** One read per integration at a time; the result (or null: unreadable) goes to the cache. */
  private refresh(integration: Integration): Promise<ControlState | null> {
    const inflight = this.refreshing.get(integration.name);
    if (inflight) return inflight;
    const changesBefore = this.changes.get(integration.name) ?? 0;
    // A report or probe of ours that landed while this read was in flight: its answer may predate it.
    const outdated = () => (this.changes.get(integration.name) ?? 0) !== changesBefore;
    const read = (async () => {
      try {
        const state = await this.options.client.withDeadline(Date.now() + BACKGROUND_READ_MS, () =>
          this.options.client.workflow.getHandle(controlWorkflowId(integration.name)).query(controlState),
        );
        this.cache.set(integration.name, { state, fetchedAt: outdated() ? Number.NEGATIVE_INFINITY : this.now() });
        this.tell(integration, state);
        return state;
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) {
          // Nothing reported yet: nothing is open. The first report starts the control workflow.
          const closed = initialState(integration);
          this.cache.set(integration.name, { state: closed, fetchedAt: this.now() });
          this.tell(integration, closed);
          return closed;
        }
        this.options.logger.warn(
          { integration: integration.name, error: (err as Error).message },
          'control state unreadable; using the local breaker',
        );
        this.cache.set(integration.name, { state: null, fetchedAt: this.now() });
        this.tell(integration, null);
        return null;
      } finally {
        this.refreshing.delete(integration.name);
        if (outdated()) void this.refresh(integration);
      }
    })();
    this.refreshing.set(integration.name, read);
    return read;
  }

  /**
   * Our own report or probe may have changed the state: read it again now, in the background. Calls keep
   * being served the cached copy meanwhile: a call never waits for this read.
   */
  private markStale(integration: Integration): void {
    this.changes.set(integration.name, (this.changes.get(integration.name) ?? 0) + 1);
    const cached = this.cache.get(integration.name);
    if (cached) cached.fetchedAt = Number.NEGATIVE_INFINITY;
    void this.refresh(integration);
  }

  /** Asks for the half-open probe; while this worker is asking, its other calls are refused at once. */
  private async probe(integration: Integration): Promise<boolean> {
    if (this.probing.has(integration.name)) return false;
    this.probing.add(integration.name);
    try {
      const granted = await this.withDeadline(() =>
        this.options.client.workflow.getHandle(controlWorkflowId(integration.name)).executeUpdate(acquireProbe),
      );
      this.markStale(integration);
      return granted;
    } catch {
      return false;
    } finally {
      this.probing.delete(integration.name);
    }
  }

  private withDeadline<T>(fn: () => Promise<T>): Promise<T> {
    return this.options.client.withDeadline(Date.now() + this.readTimeoutMs, fn);
  }

  private localGate(integration: Integration, now: number): GateDecision {
    const local = this.local.get(integration.name);
    if (local && now < local.openUntil)
      return { proceed: false, reason: 'CircuitOpen', retryAfterMs: local.openUntil - now };
    return { proceed: true, probe: false };
  }

  /** What this worker now believes of an integration's breaker and switches, for the metrics. */
  private tell(integration: Integration, state: ControlState | null): void {
    const metrics = this.options.metrics;
    if (!metrics) return;
    const now = this.now();
    if (!state) {
      const local = this.local.get(integration.name);
      const open = local !== undefined && now < local.openUntil;
      metrics.controlState({
        integration: integration.name,
        breaker: open ? 'open' : 'closed',
        killSwitches: [],
        source: 'local',
      });
      return;
    }
    const breaker = breakerPosition(state, now);
    const killSwitches = state.killSwitch.integration
      ? ['*', ...state.killSwitch.endpoints]
      : state.killSwitch.endpoints;
    metrics.controlState({
      integration: integration.name,
      breaker,
      killSwitches,
      source: 'control',
      providerIncidents: state.provider?.incidents.map((i) => i.impact) ?? [],
    });
  }

  private recordLocal(integration: Integration, failed: boolean): void {
    const cfg = controlConfigOf(integration);
    const local = this.local.get(integration.name) ?? { failures: 0, openedAt: 0, openUntil: 0 };
    local.failures = failed ? local.failures + 1 : 0;
    if (local.failures >= cfg.failures) {
      local.openedAt = this.now();
      local.openUntil = local.openedAt + cfg.cooldownMs;
    }
    this.local.set(integration.name, local);
  }
}

/**
 * Where the shared breaker stands for a caller now: a forced position wins; an open breaker past its
 * cooldown is half-open (one probe, across all workers, may go). What `gate` decides on and the metrics show.
 */
export function breakerPosition(state: ControlState, now: number): 'closed' | 'open' | 'half-open' {
  const { forced, state: declared, openUntil } = state.breaker;
  if (forced === 'closed' || (declared === 'closed' && forced !== 'open')) return 'closed';
  if (forced === 'open' || now < (openUntil ?? now)) return 'open';
  return 'half-open';
}

/** When the shared breaker last closed (epoch ms; 0: never, as far as its kept history says). */
function lastClosedAt(state: ControlState): number {
  for (let i = state.history.length - 1; i >= 0; i--)
    if (state.history[i]!.event.startsWith('closed')) return Date.parse(state.history[i]!.at);
  return 0;
}

/** The control workflow's start arguments for an integration: its declared breaker, or the defaults. */
export function controlConfigOf(integration: Integration): ControlConfig {
  return {
    integration: integration.name,
    failures: integration.breaker?.failures ?? DEFAULT_FAILURES,
    cooldownMs:
      integration.breaker?.cooldown === undefined ? DEFAULT_COOLDOWN_MS : durationMs(integration.breaker.cooldown),
  };
}

function initialState(integration: Integration): ControlState {
  const { failures, cooldownMs } = controlConfigOf(integration);
  return {
    integration: integration.name,
    breaker: { state: 'closed', consecutiveFailures: 0 },
    config: { failures, cooldownMs },
    killSwitch: { integration: false, endpoints: [] },
    history: [],
  };
}
