import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { Logger } from '../../observability/logger';
import {
  acquireProbe,
  controlState,
  controlWorkflowId,
  reportOutcomes,
  type ControlConfig,
  type ControlState,
  type OutcomeReport,
} from '../../workflows/control-messages';
import { WORKFLOWS_TASK_QUEUE } from '../../workflows/task-queues';
import type { Integration } from '../kit/define';
import { FailureType } from '../kit/failures';

/** Failures that mean "the provider is unwell" and count towards opening the breaker. */
export const unwell = new Set<string>([
  FailureType.NetworkError,
  FailureType.Timeout,
  FailureType.ServerError,
  FailureType.OutcomeUnknown,
]);

export type GateDecision =
  { proceed: true; probe: boolean } | { proceed: false; reason: 'CircuitOpen' | 'KillSwitch'; retryAfterMs: number };

export interface ControlPlaneOptions {
  client: Client;
  logger: Logger;
  /** How long a worker trusts its cached copy of the control state, ms. @default 1000 */
  refreshMs?: number;
  /** Outcomes are sent in batches at most this often, ms. @default 250 */
  flushMs?: number;
  now?: () => number;
}

const DEFAULT_FAILURES = 10;
const DEFAULT_COOLDOWN_MS = 60_000;

/**
 * A worker's view of the shared control state (circuit breakers, kill switches) held by each
 * integration's `integrationControl` workflow. Reads are cached for `refreshMs`, so every worker sees a
 * change within about that long; outcomes are reported in batches. When the control workflow cannot be
 * reached, a local breaker with the same thresholds takes over: the worker keeps working, alone.
 */
export class ControlPlane {
  private readonly cache = new Map<
    string,
    { state: ControlState | null; fetchedAt: number; refreshing?: Promise<void> }
  >();
  private readonly pending = new Map<string, { integration: Integration; report: OutcomeReport }>();
  private readonly local = new Map<string, { failures: number; openUntil: number }>();
  private flushTimer: NodeJS.Timeout | undefined;
  private readonly now: () => number;

  constructor(private readonly options: ControlPlaneOptions) {
    this.now = options.now ?? Date.now;
  }

  /** May a call to this endpoint go out now? */
  async gate(integration: Integration, endpoint: string): Promise<GateDecision> {
    const state = await this.state(integration);
    const now = this.now();
    if (!state) return this.localGate(integration, now);
    if (state.killSwitch.integration || state.killSwitch.endpoints.includes(endpoint)) {
      return { proceed: false, reason: 'KillSwitch', retryAfterMs: 5_000 };
    }
    const b = state.breaker;
    if (b.forced === 'closed' || (b.state === 'closed' && b.forced !== 'open')) return { proceed: true, probe: false };
    const openUntil = b.openUntil ?? now;
    if (b.forced === 'open' || now < openUntil)
      return { proceed: false, reason: 'CircuitOpen', retryAfterMs: Math.max(openUntil - now, 1_000) };
    // Half-open: exactly one caller across all workers gets the probe.
    const granted = await this.probe(integration);
    return granted ? { proceed: true, probe: true } : { proceed: false, reason: 'CircuitOpen', retryAfterMs: 2_000 };
  }

  /** Records a call's outcome (classified failure type, or undefined for an answer). */
  record(integration: Integration, failureType: string | undefined, probe: boolean): void {
    const failed = failureType !== undefined && unwell.has(failureType);
    this.recordLocal(integration, failed);
    const entry = this.pending.get(integration.name) ?? { integration, report: { outcomes: [] } };
    entry.report.outcomes.push(failed ? 'fail' : 'ok');
    if (failed) entry.report.lastFailureType = failureType;
    if (probe) entry.report.probe = true;
    this.pending.set(integration.name, entry);
    this.flushTimer ??= setTimeout(() => void this.flush(), this.options.flushMs ?? 250);
  }

  /** Sends every pending batch now. */
  async flush(): Promise<void> {
    this.flushTimer = undefined;
    const batches = [...this.pending.values()];
    this.pending.clear();
    await Promise.all(
      batches.map(async ({ integration, report }) => {
        try {
          await this.options.client.workflow.signalWithStart('integrationControl', {
            taskQueue: WORKFLOWS_TASK_QUEUE,
            workflowId: controlWorkflowId(integration.name),
            args: [configOf(integration)],
            signal: reportOutcomes,
            signalArgs: [report],
          });
          this.cache.delete(integration.name); // our own report may have changed the state: read it fresh
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
    await this.flush();
  }

  private async state(integration: Integration): Promise<ControlState | null> {
    const cached = this.cache.get(integration.name);
    if (cached && this.now() - cached.fetchedAt < (this.options.refreshMs ?? 1_000)) return cached.state;
    try {
      const state = await this.options.client.workflow
        .getHandle(controlWorkflowId(integration.name))
        .query(controlState);
      this.cache.set(integration.name, { state, fetchedAt: this.now() });
      return state;
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) {
        // Nothing reported yet: nothing is open. The first report starts the control workflow.
        const closed = initialState(integration);
        this.cache.set(integration.name, { state: closed, fetchedAt: this.now() });
        return closed;
      }
      this.options.logger.warn(
        { integration: integration.name, error: (err as Error).message },
        'control state unreadable; using the local breaker',
      );
      this.cache.set(integration.name, { state: null, fetchedAt: this.now() });
      return null;
    }
  }

  private async probe(integration: Integration): Promise<boolean> {
    try {
      const granted = await this.options.client.workflow
        .getHandle(controlWorkflowId(integration.name))
        .executeUpdate(acquireProbe);
      this.cache.delete(integration.name);
      return granted;
    } catch {
      return false;
    }
  }

  private localGate(integration: Integration, now: number): GateDecision {
    const l = this.local.get(integration.name);
    if (l && now < l.openUntil) return { proceed: false, reason: 'CircuitOpen', retryAfterMs: l.openUntil - now };
    return { proceed: true, probe: false };
  }

  private recordLocal(integration: Integration, failed: boolean): void {
    const cfg = configOf(integration);
    const l = this.local.get(integration.name) ?? { failures: 0, openUntil: 0 };
    l.failures = failed ? l.failures + 1 : 0;
    if (l.failures >= cfg.failures) l.openUntil = this.now() + cfg.cooldownMs;
    this.local.set(integration.name, l);
  }
}

function configOf(integration: Integration): ControlConfig {
  return {
    integration: integration.name,
    failures: integration.breaker?.failures ?? DEFAULT_FAILURES,
    cooldownMs: integration.breaker?.cooldownMs ?? DEFAULT_COOLDOWN_MS,
  };
}

function initialState(integration: Integration): ControlState {
  const { failures, cooldownMs } = configOf(integration);
  return {
    integration: integration.name,
    breaker: { state: 'closed', consecutiveFailures: 0 },
    config: { failures, cooldownMs },
    killSwitch: { integration: false, endpoints: [] },
    history: [],
  };
}
