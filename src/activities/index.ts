import { integrations, type IntegrationName } from '../integrations';
import type { IntegrationEngine } from '../integrations/runtime/engine';
import { createCrmSyncActivities, LocalCustomerStore } from './crm-sync.activities';

export type ActivitySet = Record<string, (input: never) => Promise<unknown>>;

export interface CreateActivitiesOptions {
  /** Where background syncs store provider data. @default the store named by `LOCAL_STORE_URL` */
  localStore?: LocalCustomerStore;
}

/**
 * Activities by integration, built from the declarations: each set runs on that integration's own
 * task queue (`integration-<name>`), so its rate limits and failures stay its own. Hand-written
 * activities (the CRM sync) join their integration's set and make their calls through the same runtime.
 */
export function createActivities(
  runtime: IntegrationEngine,
  options: CreateActivitiesOptions = {},
): Record<IntegrationName, ActivitySet> {
  const localStore = options.localStore ?? LocalCustomerStore.fromEnv();
  return {
    payments: runtime.activities(integrations.payments),
    documents: runtime.activities(integrations.documents),
    email: runtime.activities(integrations.email),
    crm: { ...runtime.activities(integrations.crm), ...createCrmSyncActivities({ runtime, store: localStore }) },
    crmv2: runtime.activities(integrations.crmv2),
  };
}
