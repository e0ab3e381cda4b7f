import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { providerStatusWorkflowId } from '../contracts/provider-status';
import { WORKFLOWS_TASK_QUEUE } from '../contracts/task-queues';
import type { Integration } from '../integrations/kit/define';
import type { Logger } from '../observability/logger';
import type { watchProviderStatus } from '../workflows/watch-provider-status.workflow';

/**
 * Starts the `watchProviderStatus` workflow of every integration that declares a status page whose URL is
 * configured here, unless it runs already (every worker asks at start; one watcher per integration runs).
 * Returns the integrations watched. An integration whose URL is unset is skipped, saying which variable.
 */
export async function startProviderStatusWatchers(
  client: Client,
  integrations: readonly Integration[],
  logger: Logger,
  env: NodeJS.ProcessEnv = process.env,
): Promise<string[]> {
  const watched: string[] = [];
  for (const integration of integrations) {
    const page = integration.statusPage;
    if (!page) continue;
    if (!env[page.url.name]) {
      logger.info(
        { event: 'status-page.unset', integration: integration.name },
        `${integration.name}: status page not watched: ${page.url.name} is not set`,
      );
      continue;
    }
    try {
      await client.workflow.start<typeof watchProviderStatus>('watchProviderStatus', {
        taskQueue: WORKFLOWS_TASK_QUEUE,
        workflowId: providerStatusWorkflowId(integration.name),
        args: [{ integration: integration.name, pollEvery: page.pollEvery ?? '1 minute' }],
        workflowIdConflictPolicy: 'USE_EXISTING',
      });
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    }
    watched.push(integration.name);
  }
  return watched;
}
