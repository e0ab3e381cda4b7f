/**
 * Task queue names, shared by workers, clients and workflow code. One queue per integration so a slow
 * or rate-limited provider never starves another (DESIGN rule 7), plus one for workflow tasks.
 */
export const WORKFLOWS_TASK_QUEUE = 'workflows';

export function integrationTaskQueue(integration: string): string {
  return `integration-${integration}`;
}

/**
 * The high-volume lane's queue for an integration that declares `traffic.ratePerSecond`: its batches run
 * as chunks, one activity each, and the server's rate on this queue (rate / chunk size) paces chunk starts
 * for the whole fleet (src/contracts/bulk-lane.ts, `bulkChunkItems`).
 */
export function integrationBulkTaskQueue(integration: string): string {
  return `${integrationTaskQueue(integration)}-bulk`;
}
