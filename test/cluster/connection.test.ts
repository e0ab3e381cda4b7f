import { mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serverConfig, type ServerConfigOptions } from '../../src/cluster/server-config';
import { loadConfig } from '../../src/config/config';
import {
  apiKeySource,
  cliConnectionFlags,
  temporalSettings,
  temporalSettingsFromEnv,
  tlsConfig,
  TemporalConnectionError,
} from '../../src/temporal/connection';

/** The connection module's settings from the variables, and the cluster's config, without a server. */

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'connection-test-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('temporalSettings', () => {
  it('is plaintext to the dev server by default', () => {
    expect(temporalSettings(loadConfig({}))).toEqual({
      address: '127.0.0.1:7233',
      namespace: 'default',
      tls: undefined,
      apiKey: undefined,
      apiKeyFile: undefined,
    });
  });

  it('turns TLS on with a CA, a client certificate or an API key; TEMPORAL_TLS=true alone uses the system roots', () => {
    expect(temporalSettingsFromEnv({ TEMPORAL_TLS_CA_FILE: '/ca.pem' }).tls).toEqual({ caFile: '/ca.pem' });
    expect(temporalSettingsFromEnv({ TEMPORAL_API_KEY: 'k' })).toMatchObject({ tls: {}, apiKey: 'k' });
    expect(temporalSettingsFromEnv({ TEMPORAL_TLS: 'true' }).tls).toEqual({});
    expect(
      temporalSettingsFromEnv({
        TEMPORAL_ADDRESS: 'ns.a1b2c.tmprl.cloud:7233',
        TEMPORAL_NAMESPACE: 'ns.a1b2c',
        TEMPORAL_TLS_CERT_FILE: '/c.pem',
        TEMPORAL_TLS_KEY_FILE: '/k.pem',
        TEMPORAL_TLS_SERVER_NAME: 'frontend.internal',
      }),
    ).toMatchObject({
      address: 'ns.a1b2c.tmprl.cloud:7233',
      namespace: 'ns.a1b2c',
      tls: { certFile: '/c.pem', keyFile: '/k.pem', serverName: 'frontend.internal' },
    });
  });

  it('refuses a certificate without its key, and TLS=false with certificates', () => {
    expect(() => temporalSettingsFromEnv({ TEMPORAL_TLS_CERT_FILE: '/c.pem' })).toThrow(
      /TEMPORAL_TLS_CERT_FILE and TEMPORAL_TLS_KEY_FILE go together.*TEMPORAL_TLS_KEY_FILE is not set/,
    );
    expect(() => temporalSettingsFromEnv({ TEMPORAL_TLS: 'false', TEMPORAL_TLS_CA_FILE: '/ca.pem' })).toThrow(
      TemporalConnectionError,
    );
    expect(() => temporalSettingsFromEnv({ TEMPORAL_ADDRESS: 'nope' })).toThrow(/TEMPORAL_ADDRESS: expected host:port/);
  });

  it('names an unreadable certificate file by its variable', () => {
    const settings = temporalSettingsFromEnv({ TEMPORAL_TLS_CA_FILE: join(dir, 'missing.pem') });
    expect(() => tlsConfig(settings)).toThrow(/TEMPORAL_TLS_CA_FILE=.*missing\.pem cannot be read \(ENOENT\)/);
  });

  it('re-reads the API key file when it changes, and prefers it to the variable', async () => {
    const file = join(dir, 'api-key');
    await writeFile(file, 'first-key\n');
    const settings = temporalSettingsFromEnv({ TEMPORAL_API_KEY: 'ignored', TEMPORAL_API_KEY_FILE: file });
    expect(settings.apiKey).toBeUndefined();
    const key = apiKeySource(settings)!;
    expect(key()).toBe('first-key');
    await writeFile(file, 'second-key\n');
    const later = new Date(Date.now() + 5_000);
    await utimes(file, later, later);
    expect(key()).toBe('second-key');
  });

  it('gives the temporal CLI flags that reach the same server, never a key', () => {
    expect(
      cliConnectionFlags(
        temporalSettingsFromEnv({
          TEMPORAL_ADDRESS: 'temporal.example.com:7233',
          TEMPORAL_TLS_CA_FILE: '/ca.pem',
          TEMPORAL_TLS_CERT_FILE: '/c.pem',
          TEMPORAL_TLS_KEY_FILE: '/k.pem',
          TEMPORAL_API_KEY: 'secret-value',
        }),
      ),
    ).toBe(
      '--address temporal.example.com:7233 --tls --tls-ca-path /ca.pem --tls-cert-path /c.pem --tls-key-path /k.pem --api-key "$TEMPORAL_API_KEY"',
    );
  });

  it('validates TEMPORAL_MIN_RETENTION as a duration', () => {
    expect(loadConfig({}).TEMPORAL_MIN_RETENTION).toBe('1 day');
    expect(() => loadConfig({ TEMPORAL_MIN_RETENTION: 'a fortnight' })).toThrow(/TEMPORAL_MIN_RETENTION="a fortnight"/);
  });
});

describe('the cluster config', () => {
  const options: ServerConfigOptions = {
    dir: '/tmp/c',
    postgres: { host: '127.0.0.1', port: 5432, user: 'postgres' },
    databases: { default: 'd', visibility: 'd_visibility' },
    ports: {
      frontend: { grpc: 1, membership: 2, http: 3, metrics: 4 },
      history: { grpc: 5, membership: 6, metrics: 7 },
      matching: { grpc: 8, membership: 9, metrics: 10 },
      worker: { grpc: 11, membership: 12, metrics: 13 },
    },
  };

  it('gives each service process its own metrics port, PostgreSQL persistence and SQL visibility', () => {
    const history = serverConfig(options, 'history') as {
      global: { metrics: { prometheus: { listenAddress: string } } };
      persistence: { datastores: Record<string, { sql: { pluginName: string; databaseName: string } }> };
    };
    expect(history.global.metrics.prometheus.listenAddress).toBe('127.0.0.1:7');
    expect((serverConfig(options, 'frontend') as typeof history).global.metrics.prometheus.listenAddress).toBe(
      '127.0.0.1:4',
    );
    expect(history.persistence.datastores.default!.sql).toMatchObject({ pluginName: 'postgres12', databaseName: 'd' });
    expect(history.persistence.datastores.visibility!.sql).toMatchObject({ databaseName: 'd_visibility' });
  });

  it('puts the frontend on TLS, requiring client certificates when a client CA is given', () => {
    const config = serverConfig(
      { ...options, tls: { certFile: '/s.pem', keyFile: '/s-key.pem', caFile: '/ca.pem', clientCaFile: '/ca.pem' } },
      'frontend',
    ) as { global: { tls: { frontend: { server: Record<string, unknown> } } } };
    expect(config.global.tls.frontend.server).toEqual({
      certFile: '/s.pem',
      keyFile: '/s-key.pem',
      requireClientAuth: true,
      clientCaFiles: ['/ca.pem'],
    });
  });
});
