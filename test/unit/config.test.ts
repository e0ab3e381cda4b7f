import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, configVariables, loadConfig } from '../../src/config/config';
import { renderEnvExample } from '../../src/config/env-example';
import { fileDropIntegrations, integrations } from '../../src/integrations';

describe('loadConfig', () => {
  it('applies the documented defaults to an empty environment', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      NODE_ENV: 'development',
      TEMPORAL_DEV_PORT: 7233,
      TEMPORAL_UI_PORT: 8233,
      DATA_DIR: '.data',
    });
    expect(config.TEMPORAL_ADDRESS).toBeUndefined();
  });

  it('treats an empty value as unset', () => {
    expect(loadConfig({ TEMPORAL_ADDRESS: '', TEMPORAL_DEV_PORT: '' }).TEMPORAL_DEV_PORT).toBe(7233);
  });

  it('names every bad variable, its value and what is expected', () => {
    let error: unknown;
    try {
      loadConfig({ TEMPORAL_DEV_PORT: 'seventy', TEMPORAL_ADDRESS: 'no-port-here' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).toContain('TEMPORAL_DEV_PORT="seventy"');
    expect(message).toContain('TEMPORAL_ADDRESS="no-port-here": expected host:port');
    expect(message).toContain('see .env.example');
  });

  it('validates the integrations’ variables, derived from the registry, with its own', () => {
    expect(configVariables).toEqual(
      expect.arrayContaining(['PAYMENTS_URL', 'PAYMENTS_CLIENT_SECRET', 'PAYMENTS_CLIENT_SECRET_FILE', 'CRM_API_KEY']),
    );
    expect(() => loadConfig({ EMAIL_URL: 'mail.example.com', TEMPORAL_DEV_PORT: 'x' })).toThrow(
      /TEMPORAL_DEV_PORT="x".*\n {2}EMAIL_URL="mail.example.com": expected an absolute URL/s,
    );
    expect(() => loadConfig({ CRM_API_KEY: 'k', PAYMENTS_URL: 'https://payments.example.com' })).not.toThrow();
  });

  it('leaves the workflow cache bound to the worker unless WORKER_MAX_CACHED_WORKFLOWS sets one', () => {
    expect(loadConfig({}).WORKER_MAX_CACHED_WORKFLOWS).toBeUndefined();
    expect(loadConfig({ WORKER_MAX_CACHED_WORKFLOWS: '250' }).WORKER_MAX_CACHED_WORKFLOWS).toBe(250);
    expect(() => loadConfig({ WORKER_MAX_CACHED_WORKFLOWS: '0' })).toThrow(
      /WORKER_MAX_CACHED_WORKFLOWS="0": at least 1/,
    );
    expect(() => loadConfig({ WORKER_MAX_CACHED_WORKFLOWS: 'many' })).toThrow(/WORKER_MAX_CACHED_WORKFLOWS="many"/);
  });

  const example = readFileSync(join(__dirname, '..', '..', '.env.example'), 'utf8');

  it('documents every variable it reads in .env.example', () => {
    const documented = [...example.matchAll(/^([A-Z0-9_]+)=/gm)].map((m) => m[1]);
    expect(configVariables.filter((v) => !documented.includes(v))).toEqual([]);
    expect(documented.filter((v) => !configVariables.includes(v!))).toEqual([]);
  });

  it('keeps the integrations’ block of .env.example as the registry generates it (npm run env:example)', () => {
    expect(renderEnvExample(example, integrations, fileDropIntegrations)).toBe(example);
  });
});
