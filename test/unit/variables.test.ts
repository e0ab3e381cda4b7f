import { z } from 'zod';
import { integrations } from '../../src/integrations';
import { apiKey, defineIntegration, get, IntegrationDefinitionError } from '../../src/integrations/kit/define';
import { env, secret, type VariableDoc } from '../../src/integrations/kit/refs';
import { integrationVariables } from '../../src/integrations/variables';
import { sandboxCredentialVariables } from '../../src/sandbox/credentials';

/** The integrations' configuration, derived from the references in their declarations. */

describe('the variables of the registry', () => {
  const variables = integrationVariables(integrations);

  it('are every base URL and credential the declarations reference, each secret with its _FILE form', () => {
    expect(variables.map((v) => `${v.name} ${v.kind}`)).toEqual([
      'PAYMENTS_URL url',
      'PAYMENTS_STATUS_URL url',
      'PAYMENTS_CLIENT_ID value',
      'PAYMENTS_CLIENT_SECRET secret',
      'PAYMENTS_CLIENT_SECRET_FILE secretFile',
      'DOCUMENTS_URL url',
      'DOCUMENTS_API_KEY secret',
      'DOCUMENTS_API_KEY_FILE secretFile',
      'EMAIL_URL url',
      'EMAIL_STATUS_URL url',
      'EMAIL_API_KEY secret',
      'EMAIL_API_KEY_FILE secretFile',
      'CRM_URL url',
      'CRM_API_KEY secret',
      'CRM_API_KEY_FILE secretFile',
      'INVENTORY_URL url',
      'INVENTORY_API_KEY secret',
      'INVENTORY_API_KEY_FILE secretFile',
    ]);
  });

  it('are shared where two integrations share them (CRM v1 and v2)', () => {
    const crm = variables.filter((v) => v.name.startsWith('CRM_'));
    expect(crm.map((v) => v.integrations)).toEqual([
      ['crm', 'crmv2'],
      ['crm', 'crmv2'],
      ['crm', 'crmv2'],
    ]);
  });

  it('are each described, and bound to the sandbox: a path for a URL, a credential the sandbox reads', () => {
    const known: string[] = Object.values(sandboxCredentialVariables);
    for (const v of variables) {
      expect([v.name, v.description]).toEqual([v.name, expect.stringMatching(/\w.*\.$/)]);
      if (v.kind === 'url') expect([v.name, v.sandbox]).toEqual([v.name, { path: expect.any(String) as string }]);
      if (v.kind === 'value' || v.kind === 'secret') {
        expect([v.name, v.sandbox && 'credential' in v.sandbox && known.includes(v.sandbox.credential)]).toEqual([
          v.name,
          true,
        ]);
      }
    }
  });
});

describe('a declaration the registry refuses', () => {
  const probe = (name: string, url: VariableDoc, key: VariableDoc, keyName = 'PROBE_KEY') =>
    defineIntegration({
      name,
      version: 'v1',
      purpose: 'variables tests',
      owner: 'tests',
      baseUrl: env('PROBE_URL', url),
      auth: apiKey({ header: 'x-api-key', key: secret(keyName as 'PROBE_KEY', key) }),
      endpoints: { hello: get('hello', { response: z.unknown() }) },
    });
  const url = { description: 'Base URL.', sandbox: { path: 'probe' } } as const;
  const key = { description: 'API key.', sandbox: { credential: 'SANDBOX_PROBE_KEY' } } as const;
  const refused = (registry: Parameters<typeof integrationVariables>[0], message: RegExp) => {
    expect(() => integrationVariables(registry)).toThrow(IntegrationDefinitionError);
    expect(() => integrationVariables(registry)).toThrow(message);
  };

  it('leaves a variable undescribed', () => {
    refused({ probe: probe('probe', url, {}) }, /integration "probe": PROBE_KEY: describe it/);
  });

  it('describes one variable two ways', () => {
    refused(
      { probe: probe('probe', url, key), other: probe('other', url, { ...key, description: 'Another key.' }) },
      /integration "other": auth.key \(PROBE_KEY\): described differently by "probe"/,
    );
  });

  it('binds a base URL to a sandbox credential, or a credential to a path', () => {
    refused({ probe: probe('probe', key, key) }, /baseUrl \(PROBE_URL\): a base URL is bound to the sandbox by a path/);
    refused({ probe: probe('probe', url, url) }, /auth.key \(PROBE_KEY\): a credential is bound to the sandbox by/);
  });

  it('names a secret by its _FILE form, or a variable in lower case', () => {
    refused({ probe: probe('probe', url, key, 'PROBE_KEY_FILE') }, /name the secret itself/);
    refused({ probe: probe('probe', url, key, 'probe_key') }, /upper-case letters/);
  });

  it('files an integration under another name', () => {
    refused({ other: probe('probe', url, key) }, /registry: "other" holds the integration named "probe"/);
  });
});
