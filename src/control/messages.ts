import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { ProviderStatus } from '../contracts/provider-status';

/**
 * The control state of one integration, held by its `integrationControl` workflow (ID
 * `control-<integration>`): durable, shared by every worker, visible and changeable from the UI/CLI.
 */
export interface ControlState {
  integration: string;
  breaker: {
    /** `open` past `openUntil` means "let one probe through" (half-open). */
    state: 'closed' | 'open' | 'half-open';
    consecutiveFailures: number;
    /** Epoch ms. */
    openedAt?: number;
    /** Epoch ms at which the cooldown ends. */
    openUntil?: number;
    /** Epoch ms a probe was granted at; one at a time. */
    probeGrantedAt?: number;
    /** Set by an operator: the breaker stays as forced until set back to `auto`. */
    forced?: 'open' | 'closed';
    lastFailureType?: string;
  };
  config: { failures: number; cooldownMs: number };
  /** Switched off by an operator: the whole integration, or these endpoints. */
  killSwitch: { integration: boolean; endpoints: string[] };
  /** The last transitions, newest last, for the UI. */
  history: { at: string; event: string }[];
  /** What the provider's status page last said (signal `providerStatusChanged` from `watchProviderStatus`). */
  provider?: ProviderStatus;
}

export interface ControlConfig {
  integration: string;
  failures: number;
  cooldownMs: number;
}

/** A worker's batch of outcomes, in the order they happened. */
export interface OutcomeReport {
  /** `fail` = a failure that means the provider is unwell; `ok` = it answered. */
  outcomes: ('ok' | 'fail')[];
  lastFailureType?: string;
  /**
   * Whether the batch includes the half-open probe's outcome. Sent by older workers only: any `ok` of such
   * a batch closed the breaker. Kept so their reports (and recorded histories) still mean what they meant.
   */
  probe?: boolean;
  /**
   * The half-open probe's own outcome, never mixed into `outcomes`: `ok` closes the breaker, `fail`
   * reopens it, `void` (the probe sent nothing, e.g. its token could not be fetched) lets another go.
   */
  probeOutcome?: 'ok' | 'fail' | 'void';
}

export const reportOutcomes = defineSignal<[OutcomeReport]>('reportOutcomes');
export const controlState = defineQuery<ControlState>('controlState');
/** Half-open: asks for the single probe. Resolves true for exactly one caller per cooldown. */
export const acquireProbe = defineUpdate<boolean>('acquireProbe');
export const forceBreaker = defineUpdate<
  ControlState['breaker'],
  [{ mode: 'open' | 'closed' | 'auto'; reason: string }]
>('forceBreaker');
export const setKillSwitch = defineUpdate<
  ControlState['killSwitch'],
  [{ endpoint?: string; on: boolean; reason: string }]
>('setKillSwitch');

export function controlWorkflowId(integration: string): string {
  return `control-${integration}`;
}
