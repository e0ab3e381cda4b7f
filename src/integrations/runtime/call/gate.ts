import type { Logger } from '../../../observability/logger';
import type { Integration } from '../../kit/define';
import { FailureType } from '../../kit/failures';
import { heldBack, type Policy } from './call';

export type GateDecision = (
  { proceed: true; probe: boolean } | { proceed: false; reason: 'CircuitOpen' | 'KillSwitch'; retryAfterMs: number }
) & {
  /** The provider's status page reports an open incident: `note` says which, `major` whether it is major or critical. */
  provider?: { note: string; major: boolean };
};

/**
 * What the call path needs of the shared controls (circuit breakers, kill switches): whether a call may
 * go out now, and how each call went. The control plane (src/control/) implements it.
 */
export interface Gate {
  gate(integration: Integration, endpoint: string): Promise<GateDecision>;
  /** A call's outcome: its classified failure type, or undefined for an answer; `probe` for the half-open probe. */
  record(integration: Integration, failureType: string | undefined, probe: boolean): void;
}

/**
 * The kill switch and the circuit breaker, before anything is sent. User flows fail fast (not
 * retryable: they take their fallback); background work is retried after the cooldown, spread over half
 * of it again so waiting work resumes in waves. Marks the call that is the half-open probe.
 *
 * When the provider's status page reports an incident, every failure says so (an operator reading a
 * parked workflow sees it at once), and an integration that declares `statusPage.preOpenBreaker` holds
 * user-flow calls back during a major one, as if its breaker were open (never the half-open probe: the
 * breaker's own judgement still comes from real answers).
 */
export function gate(controls: Gate | undefined, logger: Logger): Policy {
  return async (call, next) => {
    if (!controls) return next(call);
    const decision = await controls.gate(call.integration, call.endpoint);
    const userFlow = call.profile.name === 'userFlow';
    const provider = decision.provider;
    if (decision.proceed) {
      call.probe = decision.probe;
      if (provider?.major && userFlow && !decision.probe && call.integration.statusPage?.preOpenBreaker) {
        return heldBack(logger, call, {
          type: FailureType.CircuitOpen,
          message: `${call.integration.name}.${call.endpoint}: ${provider.note}; user-flow calls are held back (statusPage.preOpenBreaker): take the fallback`,
          retryable: false,
        });
      }
      const verdict = await next(call);
      return provider && !verdict.ok ? { ...verdict, message: `${verdict.message} (${provider.note})` } : verdict;
    }
    const delay = Math.round(decision.retryAfterMs * (1 + Math.random() * 0.5));
    const what = `${call.integration.name}.${call.endpoint}`;
    const message =
      decision.reason === 'KillSwitch'
        ? `${what}: switched off by an operator (kill switch)`
        : `${what}: circuit breaker open; no request sent`;
    const because = provider ? ` (${provider.note})` : '';
    return heldBack(logger, call, {
      type: decision.reason === 'KillSwitch' ? FailureType.KillSwitch : FailureType.CircuitOpen,
      message: userFlow ? `${message}: take the fallback${because}` : `${message}: waiting ${delay} ms${because}`,
      retryable: !userFlow,
      retryInMs: userFlow ? undefined : delay,
    });
  };
}
