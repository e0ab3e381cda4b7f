import type { SandboxCredentials } from './types';

/** The variables the sandbox reads its own copies of the provider credentials from (random per start when unset). */
export const sandboxCredentialVariables = {
  paymentsClientId: 'SANDBOX_PAYMENTS_CLIENT_ID',
  paymentsClientSecret: 'SANDBOX_PAYMENTS_CLIENT_SECRET',
  documentsApiKey: 'SANDBOX_DOCUMENTS_API_KEY',
  emailApiKey: 'SANDBOX_EMAIL_API_KEY',
  crmApiKey: 'SANDBOX_CRM_API_KEY',
  inventoryApiKey: 'SANDBOX_INVENTORY_API_KEY',
  webhookSecret: 'SANDBOX_WEBHOOK_SECRET',
} as const satisfies Record<keyof SandboxCredentials, `SANDBOX_${string}`>;

export type SandboxCredentialVariable = (typeof sandboxCredentialVariables)[keyof SandboxCredentials];

/** The sandbox's credentials, each read from its variable (above), e.g. from `devCredentials().sandboxEnv`. */
export function sandboxCredentialsOf(read: (variable: SandboxCredentialVariable) => string): SandboxCredentials {
  const v = sandboxCredentialVariables;
  return {
    paymentsClientId: read(v.paymentsClientId),
    paymentsClientSecret: read(v.paymentsClientSecret),
    documentsApiKey: read(v.documentsApiKey),
    emailApiKey: read(v.emailApiKey),
    crmApiKey: read(v.crmApiKey),
    inventoryApiKey: read(v.inventoryApiKey),
    webhookSecret: read(v.webhookSecret),
  };
}
