/**
 * Task queue names, shared by workers, clients and workflow code. One queue per integration so a slow
 * or rate-limited provider never starves another (DESIGN rule 7), plus one for workflow tasks.
 */
export const WORKFLOWS_TASK_QUEUE = 'workflows';

export function integrationTaskQueue(integration: string): string {
  return `integration-${integration}`;
}
