import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { composeDynamicConfigPath } from '../../scripts/cluster-compose';
import { clusterServices, DEFAULT_RETENTION_DAYS } from '../../src/cluster/cluster';
import { clusterDatabases, DEFAULT_DATABASE_PREFIX, POSTGRES_SCHEMA_DIRS, SQL_PLUGIN } from '../../src/cluster/schema';
import { DEFAULT_HISTORY_SHARDS, dynamicConfigYaml } from '../../src/cluster/server-config';
import { TEMPORAL_SERVER_VERSION, TEMPORAL_UI_SERVER_VERSION } from '../../src/cluster/versions';
import { configVariables } from '../../src/config/config';
import { customSearchAttributes } from '../../src/contracts/search-attributes';
import { fileDropIntegrations, integrations } from '../../src/integrations';
import { durationMs } from '../../src/integrations/kit/duration';
import { payments } from '../../src/integrations/payments/payments.integration';
import { checkBaseUrl } from '../../src/integrations/runtime/url-policy';
import { integrationVariables } from '../../src/integrations/variables';

// No Docker engine runs on these machines, so the topology is checked statically.
interface Service {
  image?: string;
  build?: unknown;
  command?: string[];
  entrypoint?: string[];
  environment?: Record<string, string | number>;
  ports?: string[];
  depends_on?: Record<string, { condition?: string }>;
  healthcheck?: { test?: string[] };
  restart?: string;
  volumes?: string[];
  deploy?: { replicas?: number };
}
const root = join(__dirname, '..', '..');
const composeText = readFileSync(join(root, 'docker-compose.yml'), 'utf8');
const compose = parse(composeText, { merge: true }) as { services: Record<string, Service> };
const services = compose.services;
const ownServices = Object.entries(services).filter(([, s]) => s.build !== undefined);

function hostPort(value: string | number | undefined): { host: string; port: number } {
  const url = new URL(String(value).includes('://') ? String(value) : `grpc://${String(value)}`);
  return { host: url.hostname, port: Number(url.port) };
}

describe('docker-compose.yml', () => {
  it('runs Temporal on PostgreSQL with the Web UI, the codec server and this project’s processes', () => {
    expect(Object.keys(services)).toEqual(
      expect.arrayContaining([
        'postgresql',
        'temporal-admin-tools',
        'temporal-frontend',
        'temporal-setup',
        'temporal-ui',
        'codec',
        'worker',
        'sandbox',
        'webhooks',
      ]),
    );
    expect(services['temporal-frontend']?.environment?.DB).toBe(SQL_PLUGIN);
    expect(composeText).not.toContain('auto-setup'); // deprecated: admin-tools set the schemas up
  });

  it('pins every image to a version', () => {
    for (const [name, s] of Object.entries(services).filter(([, s]) => s.image)) {
      expect([name, s.image]).toEqual([name, expect.stringMatching(/:(?!latest$)[\w.-]+$/)]);
    }
  });

  it('gives this project’s processes only variables the config module reads', () => {
    for (const [name, s] of ownServices) {
      const unknown = Object.keys(s.environment ?? {}).filter((k) => !configVariables.includes(k as never));
      expect([name, unknown]).toEqual([name, []]);
    }
  });

  it('starts each own service with the compiled entry of a source that exists, as the image does', () => {
    // The image holds dist/ only (npm run build, tsconfig.build.json: src/x.ts -> dist/x.js), no tsx.
    const source = (entry: string | undefined) => entry?.replace(/^dist\//, 'src/').replace(/\.js$/, '.ts');
    for (const [name, s] of ownServices) {
      expect([name, s.command?.slice(0, 1)]).toEqual([name, ['node']]);
      const entry = s.command?.find((part) => /^dist\/.+\.js$/.test(part));
      expect([name, readFileSync(join(root, source(entry) ?? 'missing'), 'utf8').length > 0]).toEqual([name, true]);
    }
    const cmd = /^CMD (\[.*\])$/m.exec(readFileSync(join(root, 'Dockerfile'), 'utf8'))?.[1];
    expect(JSON.parse(cmd ?? '[]')).toEqual(['node', 'dist/workers/main.js']);
    expect(readFileSync(join(root, 'tsconfig.build.json'), 'utf8')).toMatch(/"rootDir": "src", "outDir": "dist"/);
  });

  it('points every Temporal address at the frontend service’s published port', () => {
    const published = services['temporal-frontend']?.ports?.map((p) => Number(p.split(':').pop()));
    for (const [name, s] of Object.entries(services)) {
      const address = s.environment?.TEMPORAL_ADDRESS;
      if (address === undefined) continue;
      expect([name, hostPort(address).host]).toEqual([name, 'temporal-frontend']);
      expect(published).toContain(hostPort(address).port);
    }
  });

  it('points the worker at the sandbox port the sandbox listens on', () => {
    const sandboxPort = Number(services.sandbox?.environment?.SANDBOX_PORT);
    expect(services.sandbox?.ports).toContain(`${sandboxPort}:${sandboxPort}`);
    expect(hostPort(services.worker?.environment?.PAYMENTS_URL)).toEqual({ host: 'sandbox', port: sandboxPort });
  });

  it('gives the worker every integration variable the registry declares, as the dev stack does', () => {
    // Derived from the declarations (src/integrations/variables.ts): a base URL bound to the sandbox by
    // a path points at the sandbox service; every other variable is required from the environment, and
    // a credential bound to a sandbox variable reaches the sandbox under that name, from the same source.
    const sandboxPort = Number(services.sandbox?.environment?.SANDBOX_PORT);
    const required = (name: string) => `\${${name}:?set ${name}}`;
    const worker = services.worker?.environment ?? {};
    const sandbox = services.sandbox?.environment ?? {};
    for (const v of integrationVariables(integrations).filter((v) => v.kind !== 'secretFile')) {
      const expected =
        v.sandbox && 'path' in v.sandbox ? `http://sandbox:${sandboxPort}/${v.sandbox.path}` : required(v.name);
      expect([v.name, worker[v.name]]).toEqual([v.name, expected]);
      if (v.sandbox && 'credential' in v.sandbox)
        expect([v.sandbox.credential, sandbox[v.sandbox.credential]]).toEqual([v.sandbox.credential, required(v.name)]);
    }
  });

  it('gives the worker every file-drop variable, optional: its queue is served only when configured', () => {
    const worker = services.worker?.environment ?? {};
    for (const v of integrationVariables({}, fileDropIntegrations).filter((v) => v.kind !== 'secretFile'))
      expect([v.name, worker[v.name]]).toEqual([v.name, `\${${v.name}:-}`]);
  });

  it('sends the sandbox’s webhooks to the port the receiver listens on', () => {
    const port = Number(services.webhooks?.environment?.WEBHOOK_PORT);
    expect(services.webhooks?.ports).toContain(`${port}:${port}`);
    expect(hostPort(services.sandbox?.environment?.SANDBOX_WEBHOOK_TARGET)).toEqual({ host: 'webhooks', port });
  });

  it('keeps secrets out of the file: each one is required from the environment', () => {
    for (const [, s] of Object.entries(services)) {
      for (const [key, value] of Object.entries(s.environment ?? {})) {
        if (/SECRET|PASSWORD|PWD|API_KEY|ENCRYPTION_KEYS/.test(key))
          expect([key, value]).toEqual([key, expect.stringMatching(/^\$\{\w+:\?.+\}$/)]);
      }
    }
  });
  it('keeps payload keys out of the file: every process with payloads gets them from the environment', () => {
    for (const name of ['worker', 'webhooks', 'codec']) {
      expect([name, services[name]?.environment?.PAYLOAD_ENCRYPTION_KEYS]).toEqual([
        name,
        '${PAYLOAD_ENCRYPTION_KEYS:?set PAYLOAD_ENCRYPTION_KEYS}',
      ]);
    }
    expect(composeText).not.toMatch(/[A-Za-z0-9+/]{43}=/); // no AES-256 key in base64, anywhere
  });

  it('gives every long-running service a restart policy, and the one-shots a bounded retry', () => {
    const oneShots = ['temporal-admin-tools', 'temporal-setup'];
    for (const [name, s] of Object.entries(services)) {
      expect([name, s.restart]).toEqual([
        name,
        oneShots.includes(name) ? expect.stringMatching(/^on-failure:\d+$/) : 'unless-stopped',
      ]);
    }
  });

  it('runs two worker replicas', () => {
    expect(services.worker?.deploy?.replicas).toBe(2);
  });
});

/** The parts of docker-compose.yml that must equal what `npm run cluster` runs (src/cluster/). */
describe('docker-compose.yml is the cluster’s topology', () => {
  const server = clusterServices.map((role) => [role, services[`temporal-${role}`]] as const);
  const sqlSteps = (services['temporal-admin-tools']?.command ?? [])
    .join('\n')
    .split('\n')
    .filter((l) => l.includes('temporal-sql-tool'));
  const setup = (services['temporal-setup']?.command ?? []).join('\n');

  it('runs the pinned server release, its admin-tools and the pinned Web UI', () => {
    const version = TEMPORAL_SERVER_VERSION.replace(/^v/, '');
    for (const [role, s] of server) expect([role, s?.image]).toEqual([role, `temporalio/server:${version}`]);
    for (const name of ['temporal-admin-tools', 'temporal-setup'])
      expect([name, services[name]?.image]).toEqual([name, `temporalio/admin-tools:${version}`]);
    expect(services['temporal-ui']?.image).toBe(`temporalio/ui:${TEMPORAL_UI_SERVER_VERSION.replace(/^v/, '')}`);
  });

  it('runs the four server services as the cluster does, one each, the frontend first', () => {
    for (const [role, s] of server) {
      expect([role, s?.environment?.SERVICES]).toEqual([role, role]);
      if (role !== 'frontend')
        expect([role, s?.depends_on?.['temporal-frontend']]).toEqual([role, { condition: 'service_healthy' }]);
    }
    expect(services['temporal-frontend']?.depends_on?.['temporal-admin-tools']).toEqual({
      condition: 'service_completed_successfully',
    });
  });

  it('keeps histories in the cluster’s two databases, with its shard count and its dynamic config', () => {
    const databases = clusterDatabases(DEFAULT_DATABASE_PREFIX);
    for (const [role, s] of server) {
      const env = s?.environment ?? {};
      expect([role, env.DB, env.DBNAME, env.VISIBILITY_DBNAME, Number(env.NUM_HISTORY_SHARDS)]).toEqual([
        role,
        SQL_PLUGIN,
        databases.default,
        databases.visibility,
        DEFAULT_HISTORY_SHARDS,
      ]);
      const mount = s?.volumes?.find((v) => v.split(':')[1] === env.DYNAMIC_CONFIG_FILE_PATH);
      expect([role, mount?.split(':')[0]]).toEqual([role, './docker/temporal/dynamicconfig.yaml']);
    }
    // Regenerate with: node --import tsx scripts/cluster-compose.ts
    expect(parse(readFileSync(composeDynamicConfigPath, 'utf8'))).toEqual(parse(dynamicConfigYaml()));
  });

  it('sets the schemas up as src/cluster/schema.ts does: create, setup-schema -v 0.0, update-schema, per database', () => {
    const databases = clusterDatabases(DEFAULT_DATABASE_PREFIX);
    const expected = (['default', 'visibility'] as const).flatMap((kind) => [
      `--db ${databases[kind]} create-database`,
      `--db ${databases[kind]} setup-schema -v 0.0`,
      `--db ${databases[kind]} update-schema -d /etc/temporal/schema/${POSTGRES_SCHEMA_DIRS[kind]}`,
    ]);
    expect(sqlSteps.map((l) => /--db \S+ [\w-]+(?: -[vd] \S+)?/.exec(l)?.[0])).toEqual(expected);
    for (const line of sqlSteps) expect(line).toContain(`--plugin ${SQL_PLUGIN} --ep postgresql -p 5432 -u temporal`);
    // Only an existing database may be let pass; a failed schema step stops the server from starting.
    const letPass = sqlSteps.filter((l) => l.includes('||'));
    expect(letPass.every((l) => l.includes('create-database') && l.includes("grep -qi 'already exists'"))).toBe(true);
    expect(services['temporal-admin-tools']?.environment?.SQL_PASSWORD).toBe(
      '${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD}',
    );
  });

  it('registers the namespace with the cluster’s retention and the contract’s search attributes, which the processes require', () => {
    const namespace = String(services.worker?.environment?.TEMPORAL_NAMESPACE);
    expect(setup).toContain(`namespace create --namespace ${namespace} --retention ${DEFAULT_RETENTION_DAYS}d`);
    expect(setup).toContain(`namespace update --namespace ${namespace} --retention ${DEFAULT_RETENTION_DAYS}d`);
    const created = [...setup.matchAll(/search-attribute create --namespace (\S+) --name (\w+) --type (\w+)/g)].map(
      ([, ns, name, type]) => `${ns} ${name} ${type!.toUpperCase()}`,
    );
    expect(created).toEqual(customSearchAttributes.map((sa) => `${namespace} ${sa.name} ${sa.type}`));
    for (const name of ['worker', 'webhooks']) {
      const env = services[name]?.environment ?? {};
      expect([name, env.TEMPORAL_NAMESPACE]).toEqual([name, namespace]);
      expect(durationMs(String(env.TEMPORAL_MIN_RETENTION) as never)).toBeLessThanOrEqual(
        DEFAULT_RETENTION_DAYS * 86_400_000,
      );
    }
  });

  it('checks each process’s health on its operations port, reachable from outside the process', () => {
    const opsPort = { worker: 'WORKER_OPS_PORT', webhooks: 'WEBHOOK_OPS_PORT', codec: 'CODEC_OPS_PORT' } as const;
    for (const [name, variable] of Object.entries(opsPort)) {
      const env = services[name]?.environment ?? {};
      expect([name, env.OPS_HOST]).toEqual([name, '0.0.0.0']);
      const check = (services[name]?.healthcheck?.test ?? []).join(' ');
      expect([name, check]).toEqual([
        name,
        expect.stringContaining(`http://127.0.0.1:${Number(env[variable])}/readyz`),
      ]);
      expect(configVariables).toContain(variable);
    }
    for (const [name, s] of Object.entries(services)) {
      if (['temporal-admin-tools', 'temporal-setup', 'temporal-ui'].includes(name)) continue; // one-shots; the UI is checked by its users
      expect([name, (s.healthcheck?.test?.length ?? 0) > 0]).toEqual([name, true]);
    }
    // Each server service's check is the port it serves (the worker service: its membership port).
    const ports = { frontend: 7233, history: 7234, matching: 7235, worker: 6939 };
    for (const [role, s] of server)
      expect([role, s?.healthcheck?.test?.join(' ')]).toEqual([
        role,
        expect.stringContaining(`/dev/tcp/temporal-${role}/${ports[role]}`),
      ]);
  });

  it('lets the Web UI decode payloads through the codec server, whose CORS allows the UI', () => {
    const ui = services['temporal-ui']?.environment ?? {};
    const codec = services.codec?.environment ?? {};
    const published = services.codec?.ports?.map((p) => Number(p.split(':').pop()));
    expect(published).toContain(Number(codec.CODEC_PORT));
    expect(hostPort(ui.TEMPORAL_CODEC_ENDPOINT)).toEqual({ host: 'localhost', port: Number(codec.CODEC_PORT) });
    expect(String(codec.CODEC_CORS_ORIGINS).split(',')).toContain(String(ui.TEMPORAL_CORS_ORIGINS));
    expect(services['temporal-ui']?.depends_on?.codec).toEqual({ condition: 'service_healthy' });
  });

  it('allows plain HTTP to the sandbox for every URL the worker calls, the payments token URL included', () => {
    const env = services.worker?.environment ?? {};
    const allowed = String(env.ALLOW_HTTP_HOSTS ?? '')
      .split(',')
      .map((h) => h.trim());
    const auth = payments.auth;
    expect(auth.kind).toBe('oauth2ClientCredentials');
    const base = String(env.PAYMENTS_URL);
    const urls = Object.values(env)
      .filter((v) => /^https?:\/\//.test(String(v)))
      .map(String);
    if (auth.kind === 'oauth2ClientCredentials')
      urls.push(new URL(auth.tokenUrl.replace(/^\//, ''), `${base.replace(/\/$/, '')}/`).href);
    // What the engine checks before any request with NODE_ENV=production (src/integrations/runtime/url-policy.ts).
    for (const url of urls) expect(() => checkBaseUrl(url, String(env.NODE_ENV), allowed)).not.toThrow();
    expect(env.NODE_ENV).toBe('production');
  });
});
