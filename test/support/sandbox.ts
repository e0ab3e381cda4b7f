import { SandboxAdminClient, type FaultRule } from '../../src/sandbox/admin-client';
import type { StatsSnapshot } from '../../src/sandbox/stats';
import { testEnv } from './temporal';

export interface LedgerEntry {
  effect: string;
  idempotencyKey?: string;
  resourceId?: string;
}

/** The sandbox's admin API, as tests use it: the shared sandbox the global setup started. */
const client = () => new SandboxAdminClient(testEnv.sandboxUrl);

export const sandboxAdmin = {
  ledger: async (): Promise<LedgerEntry[]> =>
    (await client().ledger()).map((e) => ({ ...e, idempotencyKey: e.idempotencyKey ?? undefined })),
  fault: (rule: FaultRule) => client().fault(rule),
  clearFaults: () => client().clearFaults(),
  stats: (): Promise<StatsSnapshot> => client().stats(),
  traces: () => client().traces(),
  config: (patch: Record<string, unknown>) => client().config(patch),
  declareIncident: (provider: string, incident: Parameters<SandboxAdminClient['declareIncident']>[1]) =>
    client().declareIncident(provider, incident),
  updateIncident: (provider: string, id: string, update: Parameters<SandboxAdminClient['updateIncident']>[2]) =>
    client().updateIncident(provider, id, update),
  clearIncidents: () => client().clearIncidents(),
};
