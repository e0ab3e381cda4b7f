import { crmV2 } from './crm/crm-v2.integration';
import { crm } from './crm/crm.integration';
import { documents } from './documents/documents.integration';
import { email } from './email/email.integration';
import type { Integration } from './kit/define';
import { payments } from './payments/payments.integration';

/**
 * Every integration this project declares: the catalog (`npm run catalog`), the worker's activity
 * queues and its start-up checks all come from this list.
 */
export const integrations = { payments, documents, email, crm, crmv2: crmV2 } as const satisfies Record<
  string,
  Integration
>;

export type IntegrationName = keyof typeof integrations;
