/**
 * How the status page (src/status/) names an integration's health, for people who do not read PromQL:
 * pure rules, one place, the same words on the page, in `/api/status` and in `npm run catalog`.
 */

export type Health = 'operational' | 'degraded' | 'down' | 'unknown';

export type BreakerPosition = 'closed' | 'open' | 'half-open';

/** Share of requests failing with 5xx, timeouts, network errors or unknown outcomes: the alert's threshold. @default 0.2 */
export const DEFAULT_ERROR_RATE_THRESHOLD = 0.2;

export interface HealthInput {
  /** Where the shared breaker stands now; undefined when the control state could not be read. */
  breaker: BreakerPosition | undefined;
  /** Why the control state could not be read (shown as the reason for `unknown`). */
  controlUnknown?: string;
  /** Kill switches on: `*` for the whole integration, else endpoint names. */
  killSwitches: readonly string[];
  /** Failing share of the last 5 minutes' requests, 0..1; null when unknown or no requests were sent. */
  errorRate: number | null;
  /** @default DEFAULT_ERROR_RATE_THRESHOLD */
  threshold?: number;
}

/** The rule in words, printed on the page and in the terminal. */
export function healthRule(threshold = DEFAULT_ERROR_RATE_THRESHOLD): string {
  return (
    'down: the circuit breaker is open (no calls reach the provider). ' +
    `degraded: the breaker is half-open (one probe is testing the provider), a kill switch is on, or over ${percent(threshold)} ` +
    'of the requests of the last 5 minutes failed with 5xx, timeouts, network errors or unknown outcomes. ' +
    'unknown: the control state could not be read. operational: none of these.'
  );
}

/** The health of one integration and every reason for it, worst first. */
export function healthOf(input: HealthInput): { health: Health; reasons: string[] } {
  const threshold = input.threshold ?? DEFAULT_ERROR_RATE_THRESHOLD;
  const reasons: string[] = [];
  if (input.breaker === 'open') reasons.push('the circuit breaker is open');
  if (input.breaker === 'half-open')
    reasons.push('the circuit breaker is half-open: one probe is testing the provider');
  if (input.killSwitches.includes('*')) reasons.push('the kill switch of the whole integration is on');
  const endpoints = input.killSwitches.filter((e) => e !== '*');
  if (endpoints.length > 0) reasons.push(`kill switch on for ${endpoints.join(', ')}`);
  if (input.errorRate !== null && input.errorRate > threshold)
    reasons.push(
      `${percent(input.errorRate)} of the requests of the last 5 minutes failed (over ${percent(threshold)})`,
    );
  if (input.breaker === 'open') return { health: 'down', reasons };
  const unread = input.breaker === undefined ? [input.controlUnknown ?? 'the control state could not be read'] : [];
  if (reasons.length > 0) return { health: 'degraded', reasons: [...reasons, ...unread] };
  if (unread.length > 0) return { health: 'unknown', reasons: unread };
  return { health: 'operational', reasons: [] };
}

/** `0.237` -> `24 %`; below 1 %, one decimal. */
export function percent(share: number): string {
  const p = share * 100;
  return `${p < 1 && p > 0 ? p.toFixed(1) : Math.round(p)} %`;
}

/** The last time the breaker opened, and why, from the control workflow's history (newest last). */
export function lastIncident(history: readonly { at: string; event: string }[]): { at: string; why: string } | null {
  for (let i = history.length - 1; i >= 0; i--) {
    const h = history[i]!;
    if (h.event.startsWith('opened')) return { at: h.at, why: h.event.replace(/^opened:\s*/, '') };
  }
  return null;
}

/** The kill switches on, `*` first for the whole integration. */
export function killSwitchesOf(killSwitch: { integration: boolean; endpoints: readonly string[] }): string[] {
  return [...(killSwitch.integration ? ['*'] : []), ...killSwitch.endpoints];
}
