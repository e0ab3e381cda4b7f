import { z } from 'zod';
import { IntegrationDefinitionError, type Integration, type IntegrationRegistry } from './kit/define';
import type { FileDropIntegration, FileDropRegistry } from './kit/file-drop';
import type { EnvRef, SandboxBinding, SecretRef } from './kit/refs';

/**
 * The integrations' configuration, derived from the references in their declarations (`env(...)`,
 * `secret(...)`; src/integrations/kit/refs.ts): the config module's schema, `.env.example`, the dev
 * credentials and the docker-compose check all read this list, so a provider's variables are declared
 * once, where it uses them.
 */

/**
 * - `url`: a base URL (validated as an absolute URL);
 * - `value`: plain configuration (an OAuth2 client id);
 * - `secret`: a secret, also readable from its `_FILE` form (src/integrations/runtime/secrets.ts);
 * - `secretFile`: that `_FILE` form: a mounted file holding the secret, re-read when it changes.
 */
export type VariableKind = 'url' | 'value' | 'secret' | 'secretFile';

export interface IntegrationVariable {
  name: string;
  kind: VariableKind;
  description: string;
  /** The integrations that read it, in registry order (CRM v1 and v2 share theirs). */
  integrations: string[];
  /** How `npm start` and the tests fill it against the sandbox; absent: left unset. */
  sandbox?: SandboxBinding;
  /** For a `secretFile`: the secret it holds. */
  secret?: string;
}

interface Use {
  integration: Integration | FileDropIntegration;
  field: string;
  ref: EnvRef | SecretRef;
  role: 'url' | 'credential';
}

/** Every configuration reference of a declaration, with the field it sits in. */
function usesOf(integration: Integration): Use[] {
  const uses: Use[] = [{ integration, field: 'baseUrl', ref: integration.baseUrl, role: 'url' }];
  if (integration.statusPage)
    uses.push({ integration, field: 'statusPage.url', ref: integration.statusPage.url, role: 'url' });
  const credential = (field: string, ref: EnvRef | SecretRef) =>
    uses.push({ integration, field, ref, role: 'credential' });
  const auth = integration.auth;
  if (auth.kind === 'apiKey') credential('auth.key', auth.key);
  if (auth.kind === 'oauth2ClientCredentials') {
    credential('auth.clientId', auth.clientId);
    credential('auth.clientSecret', auth.clientSecret);
  }
  if (integration.mtls) {
    credential('mtls.cert', integration.mtls.cert);
    credential('mtls.key', integration.mtls.key);
    if (integration.mtls.ca) credential('mtls.ca', integration.mtls.ca);
  }
  return uses;
}

/** The configuration references of a file-drop declaration (its SFTP transport). */
function fileDropUsesOf(integration: FileDropIntegration): Use[] {
  const t = integration.transport;
  const refs: [string, EnvRef | SecretRef | undefined][] = [
    ['transport.host', t.host],
    ['transport.port', typeof t.port === 'object' ? t.port : undefined],
    ['transport.username', t.username],
    ['transport.privateKey', t.privateKey],
    ['transport.hostKey', t.hostKey],
  ];
  return refs.flatMap(([field, ref]) => (ref ? [{ integration, field, ref, role: 'credential' as const }] : []));
}

const VARIABLE = /^[A-Z][A-Z0-9_]*$/;
const SANDBOX_VARIABLE = /^SANDBOX_[A-Z0-9_]+$/;
const SANDBOX_PATH = /^[a-z0-9][a-z0-9._/-]*$/;

/**
 * The variables every registered integration reads, in registry order (a secret followed by its `_FILE`
 * form), then those of the file-drop integrations when given. Throws an {@link IntegrationDefinitionError}
 * naming the integration and field when a declaration is incomplete (no description) or two declarations
 * of one variable disagree.
 */
export function integrationVariables(
  registry: IntegrationRegistry,
  fileDrops: FileDropRegistry = {},
): IntegrationVariable[] {
  const byName = new Map<string, IntegrationVariable>();
  const entries: [string, Integration | FileDropIntegration][] = [
    ...Object.entries(registry),
    ...Object.entries(fileDrops),
  ];
  for (const [key, integration] of entries) {
    if (key !== integration.name)
      throw new IntegrationDefinitionError(`registry: "${key}" holds the integration named "${integration.name}"`);
    const uses = 'transport' in integration ? fileDropUsesOf(integration) : usesOf(integration);
    for (const use of uses) declare(byName, use);
  }
  for (const variable of byName.values()) {
    if (!variable.description) {
      throw new IntegrationDefinitionError(
        `integration "${variable.integrations[0]}": ${variable.name}: describe it (env/secret(name, { description }))`,
      );
    }
  }
  return [...byName.values()];
}

function declare(byName: Map<string, IntegrationVariable>, use: Use): void {
  const { integration, field, ref, role } = use;
  const fail = (message: string): never => {
    throw new IntegrationDefinitionError(`integration "${integration.name}": ${field} (${ref.name}): ${message}`);
  };
  if (!VARIABLE.test(ref.name)) fail('a variable name is upper-case letters, digits and _, starting with a letter');
  if (ref.kind === 'secret' && ref.name.endsWith('_FILE')) fail('name the secret itself: its _FILE form is derived');
  const sandbox = ref.sandbox;
  if (sandbox && role === 'url' && !('path' in sandbox))
    fail('a base URL is bound to the sandbox by a path: sandbox: { path: "<provider>" }');
  if (sandbox && role === 'credential' && !('credential' in sandbox))
    fail('a credential is bound to the sandbox by its variable: sandbox: { credential: "SANDBOX_..." }');
  if (sandbox && 'path' in sandbox && !SANDBOX_PATH.test(sandbox.path))
    fail(`sandbox.path "${sandbox.path}": a relative path, lower case, no leading /`);
  if (sandbox && 'credential' in sandbox && !SANDBOX_VARIABLE.test(sandbox.credential))
    fail(`sandbox.credential "${sandbox.credential}": expected SANDBOX_<NAME>`);

  const kind: VariableKind = role === 'url' ? 'url' : ref.kind === 'secret' ? 'secret' : 'value';
  const found = byName.get(ref.name);
  if (!found) {
    byName.set(ref.name, {
      name: ref.name,
      kind,
      description: ref.description ?? '',
      integrations: [integration.name],
      ...(sandbox ? { sandbox } : {}),
    });
    if (kind === 'secret') {
      const file = `${ref.name}_FILE`;
      if (byName.has(file)) fail(`${file} is already declared as a variable of its own`);
      byName.set(file, {
        name: file,
        kind: 'secretFile',
        description: `A mounted file holding ${ref.name} (Kubernetes secret, vault agent); re-read when it changes.`,
        integrations: [integration.name],
        secret: ref.name,
      });
    }
    return;
  }
  // Declared before (a shared variable, e.g. CRM v1 and v2): the declarations must agree.
  if (found.kind !== kind) fail(`declared as ${found.kind} by "${found.integrations[0]}", here as ${kind}`);
  if (ref.description && found.description && ref.description !== found.description)
    fail(`described differently by "${found.integrations[0]}": share one reference instead`);
  if (sandbox && found.sandbox && JSON.stringify(sandbox) !== JSON.stringify(found.sandbox))
    fail(`bound to the sandbox differently by "${found.integrations[0]}"`);
  if (!found.description && ref.description) found.description = ref.description;
  if (!found.sandbox && sandbox) found.sandbox = sandbox;
  const file = kind === 'secret' ? byName.get(`${ref.name}_FILE`) : undefined;
  for (const v of file ? [found, file] : [found])
    if (!v.integrations.includes(integration.name)) v.integrations.push(integration.name);
}

/** The zod schema of each variable, by name: what src/config/config.ts merges into its own. */
export function integrationConfigShape(variables: IntegrationVariable[]): Record<string, z.ZodType> {
  return Object.fromEntries(
    variables.map((v) => [
      v.name,
      v.kind === 'url'
        ? z.url({ error: `expected an absolute URL, e.g. https://${v.integrations[0]}.example.com` }).optional()
        : z.string().min(1).optional(),
    ]),
  );
}
