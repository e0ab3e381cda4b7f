import { defineSearchAttributeKey } from '@temporalio/common';

/**
 * Custom search attributes, registered with the dev server at start and in docker-compose for a real
 * cluster. Their names are an API: operators save UI queries on them. No PII ever goes in one.
 */
export const NeedsAttention = defineSearchAttributeKey('NeedsAttention', 'BOOL');
/** Integration a parked workflow waits on, e.g. `payments`. */
export const IntegrationName = defineSearchAttributeKey('IntegrationName', 'KEYWORD');
/** The pattern step a workflow is in, e.g. `reconciling`, `polling`, `parked`. */
export const WorkflowStage = defineSearchAttributeKey('WorkflowStage', 'KEYWORD');

export const customSearchAttributes = [NeedsAttention, IntegrationName, WorkflowStage];
