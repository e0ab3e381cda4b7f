import { randomBytes } from 'node:crypto';

/**
 * Credentials for a development or test stack: fresh random values each start, handed to the sandbox
 * (which plays the providers) and to the code under test through the environment. Nothing secret is
 * ever written to the repository, and no two runs share a secret.
 */
export function devCredentials() {
  const secret = () => randomBytes(24).toString('base64url');
  const paymentsClientId = `dev-${randomBytes(4).toString('hex')}`;
  const paymentsClientSecret = secret();
  const documentsApiKey = secret();
  const emailApiKey = secret();
  const crmApiKey = secret();
  const webhookSecret = `whsec_${randomBytes(24).toString('base64')}`;
  return {
    /** For the sandbox process. */
    sandboxEnv: {
      SANDBOX_PAYMENTS_CLIENT_ID: paymentsClientId,
      SANDBOX_PAYMENTS_CLIENT_SECRET: paymentsClientSecret,
      SANDBOX_DOCUMENTS_API_KEY: documentsApiKey,
      SANDBOX_EMAIL_API_KEY: emailApiKey,
      SANDBOX_CRM_API_KEY: crmApiKey,
      SANDBOX_WEBHOOK_SECRET: webhookSecret,
    },
    /** For workers: where each provider is and how to authenticate to it. */
    integrationEnv: (sandboxUrl: string) => ({
      PAYMENTS_URL: `${sandboxUrl}/payments`,
      PAYMENTS_CLIENT_ID: paymentsClientId,
      PAYMENTS_CLIENT_SECRET: paymentsClientSecret,
      DOCUMENTS_URL: `${sandboxUrl}/documents`,
      DOCUMENTS_API_KEY: documentsApiKey,
      EMAIL_URL: `${sandboxUrl}/email`,
      EMAIL_API_KEY: emailApiKey,
      CRM_URL: `${sandboxUrl}/crm`,
      CRM_API_KEY: crmApiKey,
    }),
    /** For the webhook receiver: the secret the sandbox signs document webhooks with. */
    receiverEnv: { WEBHOOK_DOCUMENTS_SECRETS: webhookSecret },
  };
}
