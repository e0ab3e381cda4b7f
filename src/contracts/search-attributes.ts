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

/**
 * Workflow time a workflow last parked for an operator (set by `park` since the `parked-at` patch): lists
 * the ones waiting longest, e.g. `WorkflowStage = 'parked' AND ParkedAt < '2026-01-01T10:00:00Z'`.
 */
export const ParkedAt = defineSearchAttributeKey('ParkedAt', 'DATETIME');

export const customSearchAttributes = [NeedsAttention, IntegrationName, WorkflowStage, ParkedAt];
