import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { configVariables } from '../../src/config/config';
import { integrations } from '../../src/integrations';
import { integrationVariables } from '../../src/integrations/variables';

// No Docker engine runs on these machines, so the topology is checked statically.
interface Service {
  image?: string;
  build?: unknown;
  command?: string[];
  environment?: Record<string, string | number>;
  ports?: string[];
  depends_on?: Record<string, unknown>;
}
const root = join(__dirname, '..', '..');
const compose = parse(readFileSync(join(root, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
  services: Record<string, Service>;
};
const services = compose.services;
const ownServices = Object.entries(services).filter(([, s]) => s.build !== undefined);

function hostPort(value: string | number | undefined): { host: string; port: number } {
  const url = new URL(String(value).includes('://') ? String(value) : `grpc://${String(value)}`);
  return { host: url.hostname, port: Number(url.port) };
}

describe('docker-compose.yml', () => {
  it('runs Temporal on PostgreSQL with the Web UI and this project’s worker and sandbox', () => {
    expect(Object.keys(services)).toEqual(
      expect.arrayContaining(['postgresql', 'temporal', 'temporal-ui', 'worker', 'sandbox', 'webhooks']),
    );
    expect(services.temporal?.environment?.DB).toBe('postgres12');
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

  it('starts each own service with an entry point that exists', () => {
    for (const [, s] of ownServices) {
      const entry = s.command?.find((part) => part.endsWith('.ts'));
      expect(entry && readFileSync(join(root, entry), 'utf8').length).toBeGreaterThan(0);
    }
  });

  it('points every Temporal address at the temporal service’s published port', () => {
    const published = services.temporal?.ports?.map((p) => Number(p.split(':').pop()));
    for (const [name, s] of Object.entries(services)) {
      const address = s.environment?.TEMPORAL_ADDRESS;
      if (address === undefined) continue;
      expect([name, hostPort(address).host]).toEqual([name, 'temporal']);
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

  it('sends the sandbox’s webhooks to the port the receiver listens on', () => {
    const port = Number(services.webhooks?.environment?.WEBHOOK_PORT);
    expect(services.webhooks?.ports).toContain(`${port}:${port}`);
    expect(hostPort(services.sandbox?.environment?.SANDBOX_WEBHOOK_TARGET)).toEqual({ host: 'webhooks', port });
  });

  it('keeps secrets out of the file: each one is required from the environment', () => {
    for (const [, s] of Object.entries(services)) {
      for (const [key, value] of Object.entries(s.environment ?? {})) {
        if (/SECRET|PASSWORD|PWD|API_KEY/.test(key))
          expect([key, value]).toEqual([key, expect.stringMatching(/^\$\{\w+:\?.+\}$/)]);
      }
    }
  });
});
