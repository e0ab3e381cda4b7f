import {
  fileDropIntegrations,
  integrations,
  type FileDropIntegrationName,
  type IntegrationName,
} from '../integrations';
import type { Integration, IntegrationRegistry } from '../integrations/kit/define';
import type { IntegrationEngine } from '../integrations/runtime/engine';
import type { FileDropEngine } from '../integrations/runtime/sftp/engine';
import { createCrmSyncActivities, LocalCustomerStore } from './crm-sync.activities';
import { createProviderStatusActivities } from './provider-status.activities';
import { createDriftActivities } from './drift.activities';
import { createBulkLaneActivities } from './bulk-lane.activities';

export type ActivitySet = Record<string, (input: never) => Promise<unknown>>;

export interface CreateActivitiesOptions {
  /** Where background syncs store provider data. @default the store named by `LOCAL_STORE_URL` */
  localStore?: LocalCustomerStore;
}

/**
 * The activity map of a registry: for each integration, the activities of its declaration (one per
 * endpoint and poller, see `IntegrationEngine.activities`), to run on its own task queue
 * (`integration-<name>`), so its rate limits and failures stay its own. Hand-written activities join
 * their integration's set and make their calls through the same engine; a name may not be taken twice.
 */
export function activitiesOf<R extends IntegrationRegistry>(
  registry: R,
  runtime: IntegrationEngine,
  handWritten: Partial<Record<keyof R & string, ActivitySet>> = {},
): Record<keyof R & string, ActivitySet> {
  const map = {} as Record<keyof R & string, ActivitySet>;
  for (const name of Object.keys(registry) as (keyof R & string)[]) {
    const declared = runtime.activities(registry[name]!);
    const extra = handWritten[name] ?? {};
    const clash = Object.keys(extra).filter((activity) => activity in declared);
    if (clash.length > 0)
      throw new Error(`${name}: hand-written activities ${clash.join(', ')} clash with declared ones`);
    map[name] = { ...declared, ...extra };
  }
  return map;
}

/**
 * The project's activities: the registry's (src/integrations/index.ts), plus the CRM sync in the crm set,
 * plus on every integration's queue the recording of a dark launch's disagreement (drift.activities.ts)
 * and the high-volume lane's batch sender (bulk-lane.activities.ts),
 * and, for each integration that declares a status page, reading it and publishing what it says.
 */
export function createActivities(
  runtime: IntegrationEngine,
  options: CreateActivitiesOptions = {},
): Record<IntegrationName, ActivitySet> {
  const localStore = options.localStore ?? LocalCustomerStore.fromEnv();
  const drift = createDriftActivities(runtime);
  const handWritten: Partial<Record<IntegrationName, ActivitySet>> = {};
  for (const name of Object.keys(integrations) as IntegrationName[]) {
    const integration: Integration = integrations[name];
    handWritten[name] = {
      ...drift,
      ...createBulkLaneActivities(runtime, integration),
      ...(name === 'crm' ? createCrmSyncActivities({ runtime, store: localStore }) : {}),
      ...(integration.statusPage ? createProviderStatusActivities(integration) : {}),
    };
  }
  return activitiesOf(integrations, runtime, handWritten);
}

/** The file-drop integrations' activities (upload, answer-file wait), by integration, over SFTP. */
export function createFileDropActivities(engine: FileDropEngine): Record<FileDropIntegrationName, ActivitySet> {
  const map = {} as Record<FileDropIntegrationName, ActivitySet>;
  for (const name of Object.keys(fileDropIntegrations) as FileDropIntegrationName[])
    map[name] = engine.activities(fileDropIntegrations[name]);
  return map;
}
