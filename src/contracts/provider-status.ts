import { defineSignal } from '@temporalio/workflow';

/**
 * What a provider says of itself on its status page (the Statuspage format, `/api/v2/summary.json`), as the
 * `watchProviderStatus` workflow last read it. Informational: it annotates the catalog, the control
 * workflow, alerts and parked workflows, and (where an integration declares it) holds back user-flow calls
 * during a major incident. It is never a health check before a call: the breaker judges by real answers.
 */
export interface ProviderStatus {
  /** The page's overall indicator; `unknown` when the page could not be read. */
  indicator: 'none' | 'minor' | 'major' | 'critical' | 'maintenance' | 'unknown';
  /** The page's own words, e.g. "Partial System Outage". */
  description: string;
  /** Unresolved incidents that touch the integration's declared components (all, when none are declared). */
  incidents: ProviderIncident[];
  /** When the page was last read successfully (ISO 8601, workflow time). */
  checkedAt: string;
  /** Why the last read failed, when it did (the previous incidents are kept meanwhile). */
  readError?: string;
}

export interface ProviderIncident {
  /** The provider's incident id. */
  id: string;
  name: string;
  /** `investigating`, `identified`, `monitoring`. */
  status: string;
  impact: 'none' | 'minor' | 'major' | 'critical';
  /** When the provider opened it (ISO 8601). */
  startedAt: string;
  /** The provider's incident page, e.g. `https://stspg.io/…`. */
  url?: string;
}

/** The watcher tells the control workflow and parked workflows of an integration that its page changed. */
export const providerStatusChanged = defineSignal<[ProviderStatus]>('providerStatusChanged');

/** The workflow that polls one integration's status page. */
export function providerStatusWorkflowId(integration: string): string {
  return `provider-status-${integration}`;
}

/** An incident that should hold back user-flow calls, where the integration declares `preOpenBreaker`. */
export function isMajor(incident: ProviderIncident): boolean {
  return incident.impact === 'major' || incident.impact === 'critical';
}

/** One line for people: "provider reports an incident since …". */
export function incidentNote(status: ProviderStatus | undefined): string | undefined {
  const incident = status?.incidents[0];
  if (!incident) return undefined;
  const more = status.incidents.length > 1 ? ` (+${status.incidents.length - 1} more)` : '';
  return `provider reports an incident since ${incident.startedAt}: ${incident.name} (${incident.impact}, ${incident.status})${incident.url ? ` ${incident.url}` : ''}${more}`;
}
