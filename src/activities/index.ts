import { integrations, type IntegrationName } from '../integrations';
import type { IntegrationRuntime } from '../integrations/runtime/engine';

export type ActivitySet = Record<string, (input: never) => Promise<unknown>>;

/**
 * Activities by integration, built from the declarations: each set runs on that integration's own
 * task queue (`integration-<name>`), so its rate limits and failures stay its own.
 */
export function createActivities(runtime: IntegrationRuntime): Record<IntegrationName, ActivitySet> {
  return {
    payments: runtime.activities(integrations.payments),
    documents: runtime.activities(integrations.documents),
    email: runtime.activities(integrations.email),
    crm: runtime.activities(integrations.crm),
  };
}
