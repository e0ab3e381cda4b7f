import { workflowInfo } from '@temporalio/workflow';

/**
 * The idempotency key of a workflow step: the workflow ID plus the step name. Never the run ID, which
 * changes on retry, continue-as-new and reset, so every attempt and every reset reuses the same key.
 */
export function stepKey(step: string): string {
  return `${workflowInfo().workflowId}:${step}`;
}
