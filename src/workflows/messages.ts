import { defineSignal } from '@temporalio/workflow';

/**
 * Signals, queries and updates, defined once and shared by workflows, clients and the webhook
 * receiver. Their names are stored in histories: an API, like workflow and activity names.
 */

/** A document job finished, as told by the provider's webhook (or found by polling). */
export interface DocumentJobResult {
  jobId: string;
  status: 'completed' | 'failed';
  documentUrl?: string;
  /** Which path delivered it: `webhook` or `poll`. */
  source: 'webhook' | 'poll';
  /** The provider's event id, when it came from a webhook. */
  eventId?: string;
}

export const documentJobFinished = defineSignal<[DocumentJobResult]>('documentJobFinished');

/** The workflow ID of the workflow that waits for a document job: the webhook receiver signals it. */
export function documentJobWorkflowId(jobId: string): string {
  return `document-job-${jobId}`;
}
