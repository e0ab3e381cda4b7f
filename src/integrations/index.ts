import { crmV2 } from './crm/crm-v2.integration';
import { crm } from './crm/crm.integration';
import { documents } from './documents/documents.integration';
import { email } from './email/email.integration';
import { inventory } from './inventory/inventory.integration';
import type { IntegrationRegistry } from './kit/define';
import { payments } from './payments/payments.integration';
import type { FileDropRegistry } from './kit/file-drop';
import { payroll } from './payroll/payroll.integration';

/**
 * The registry: every integration this project declares, one line each. Everything else is derived from
 * it (src/integrations/variables.ts): the integrations' part of the config schema (src/config/config.ts),
 * `.env.example` (`npm run env:example`), the dev credentials for the sandbox
 * (src/devserver/dev-credentials.ts), the activity map (src/activities/index.ts), the worker's queues and
 * start-up checks (src/workers), the catalog (`npm run catalog`); docker-compose.yml is checked against it.
 * The key is the integration's name.
 */
export const integrations = {
  payments,
  documents,
  email,
  crm,
  crmv2: crmV2,
  inventory,
} as const satisfies IntegrationRegistry;

export type IntegrationName = keyof typeof integrations;

/** The registered names, in registry order. */
export const integrationNames = Object.keys(integrations) as IntegrationName[];

/**
 * File-drop integrations (SFTP; src/integrations/kit/file-drop.ts), one line each. Their activities come
 * from src/integrations/runtime/sftp/ and run on their own queues (`integration-<name>`), like the others.
 */
export const fileDropIntegrations = {
  payroll,
} as const satisfies FileDropRegistry;

export type FileDropIntegrationName = keyof typeof fileDropIntegrations;
