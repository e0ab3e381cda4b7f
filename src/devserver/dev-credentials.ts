import { randomBytes } from 'node:crypto';
import { integrations } from '../integrations';
import type { IntegrationRegistry } from '../integrations/kit/define';
import type { SandboxVariable } from '../integrations/kit/refs';
import { integrationVariables } from '../integrations/variables';
import { sandboxCredentialVariables, type SandboxCredentialVariable } from '../sandbox/credentials';

/** The sandbox's variables: every credential it reads, and any other a declaration binds to it. */
export type SandboxEnv = Record<SandboxCredentialVariable, string> & Partial<Record<SandboxVariable, string>>;

/**
 * Credentials for a development or test stack: fresh random values each start, handed to the sandbox
 * (which plays the providers) and to the code under test through the environment. Nothing secret is
 * ever written to the repository, and no two runs share a secret.
 *
 * Derived from the registry's declarations (src/integrations/kit/refs.ts): a base URL bound to the
 * sandbox by `{ path }` becomes `<sandbox URL>/<path>`; a credential bound by `{ credential }` gets one
 * random value, under the sandbox's variable for the sandbox and under its own for the workers.
 */
export function devCredentials(registry: IntegrationRegistry = integrations) {
  const random = () => randomBytes(24).toString('base64url');
  const variables = integrationVariables(registry);
  const webhookSecret = `whsec_${randomBytes(24).toString('base64')}`;
  // Every credential the sandbox reads, then any other sandbox variable a declaration binds.
  const sandbox = Object.fromEntries(
    Object.values(sandboxCredentialVariables).map((name) => [name, random()]),
  ) as SandboxEnv;
  sandbox.SANDBOX_WEBHOOK_SECRET = webhookSecret;
  for (const v of variables) {
    if (v.sandbox && 'credential' in v.sandbox) sandbox[v.sandbox.credential] ??= random();
  }
  const integrationEnv = (sandboxUrl: string): Record<string, string> => {
    const env: Record<string, string> = {};
    for (const v of variables) {
      if (!v.sandbox) continue;
      env[v.name] = 'path' in v.sandbox ? `${sandboxUrl}/${v.sandbox.path}` : sandbox[v.sandbox.credential]!;
    }
    return env;
  };
  return {
    /** For the sandbox process. */
    sandboxEnv: sandbox,
    /** For workers: where each provider is and how to authenticate to it. */
    integrationEnv,
    /** For the webhook receiver: the secret the sandbox signs document webhooks with. */
    receiverEnv: { WEBHOOK_DOCUMENTS_SECRETS: webhookSecret },
  };
}
