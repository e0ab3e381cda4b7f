import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, configVariables, loadConfig } from '../../src/config/config';

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

  it('documents every variable it reads in .env.example', () => {
    const example = readFileSync(join(__dirname, '..', '..', '.env.example'), 'utf8');
    const documented = [...example.matchAll(/^([A-Z0-9_]+)=/gm)].map((m) => m[1]);
    expect(configVariables.filter((v) => !documented.includes(v))).toEqual([]);
  });
});
