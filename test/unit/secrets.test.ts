import { mkdtempSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { secret, env } from '../../src/integrations/kit/refs';
import { MissingConfigError, SecretSource } from '../../src/integrations/runtime/secrets';

describe('SecretSource', () => {
  it('prefers the mounted file over the variable and re-reads it when it is rotated', () => {
    const dir = mkdtempSync(join(tmpdir(), 'secrets-'));
    const file = join(dir, 'client-secret');
    writeFileSync(file, 'first-secret\n');
    utimesSync(file, new Date(1_000_000), new Date(1_000_000));
    const source = new SecretSource({ PAYMENTS_CLIENT_SECRET: 'from-env', PAYMENTS_CLIENT_SECRET_FILE: file });
    expect(source.value(secret('PAYMENTS_CLIENT_SECRET'))).toBe('first-secret');
    writeFileSync(file, 'rotated-secret\n');
    utimesSync(file, new Date(2_000_000), new Date(2_000_000));
    expect(source.value(secret('PAYMENTS_CLIENT_SECRET'))).toBe('rotated-secret');
  });

  it('remembers every secret it handed out, for scrubbing', () => {
    const source = new SecretSource({ PAYMENTS_CLIENT_SECRET: 'abc-secret-123' });
    source.value(secret('PAYMENTS_CLIENT_SECRET'));
    expect([...source.knownSecrets()]).toEqual(['abc-secret-123']);
  });

  it('names the variables to set when a secret is missing', () => {
    const source = new SecretSource({});
    expect(() => source.value(secret('PAYMENTS_CLIENT_SECRET'))).toThrow(
      'secret PAYMENTS_CLIENT_SECRET is not set: set PAYMENTS_CLIENT_SECRET_FILE to a mounted file (preferred) or PAYMENTS_CLIENT_SECRET',
    );
    expect(() => source.value(env('PAYMENTS_URL'))).toThrow(MissingConfigError);
  });

  it('says which file cannot be read', () => {
    const source = new SecretSource({ PAYMENTS_CLIENT_SECRET_FILE: '/nonexistent/secret' });
    expect(() => source.value(secret('PAYMENTS_CLIENT_SECRET'))).toThrow('/nonexistent/secret, which cannot be read');
  });
});
