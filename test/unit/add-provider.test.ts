import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { activitiesOf } from '../../src/activities';
import { ConfigError, configVariablesOf, loadConfig } from '../../src/config/config';
import { integrationsEnvBlock, renderEnvExample } from '../../src/config/env-example';
import { devCredentials } from '../../src/devserver/dev-credentials';
import { fileDropIntegrations, integrations } from '../../src/integrations';
import { catalog } from '../../src/integrations/catalog';
import type { IntegrationRegistry } from '../../src/integrations/kit/define';
import { IntegrationEngine, type ActivityInput } from '../../src/integrations/runtime/engine';
import { shipping } from '../fixtures/shipping/shipping.integration';
import { captureLogs } from '../support/log-capture';

/**
 * Adding a provider is one folder and one registry line. The folder is test/fixtures/shipping (the
 * README's example); the line is the registry below, the project's with `shipping` added, exactly what
 * src/integrations/index.ts would hold. Nothing else is touched: the config schema, .env.example, the
 * dev credentials, the activity map and the catalog all come from the registry, and a call goes
 * through the real engine to a real HTTP server standing in for the provider's sandbox.
 */
const registry = { ...integrations, shipping } as const satisfies IntegrationRegistry;

const root = join(__dirname, '..', '..');
const envExample = readFileSync(join(root, '.env.example'), 'utf8');

describe('adding a provider: one folder, one registry line', () => {
  it('is not in the project: only the registry line below brings it in', () => {
    expect(Object.keys(integrations)).not.toContain('shipping');
    expect(configVariablesOf(integrations)).not.toContain('SHIPPING_URL');
    expect(envExample).not.toContain('SHIPPING_');
  });

  it('extends the config schema with its base URL and its secret (and the _FILE form)', () => {
    const before = configVariablesOf(integrations);
    const after = configVariablesOf(registry);
    expect(after.filter((name) => !before.includes(name))).toEqual([
      'SHIPPING_URL',
      'SHIPPING_API_KEY',
      'SHIPPING_API_KEY_FILE',
    ]);
    expect(after).toEqual(expect.arrayContaining(before));
    expect(() => loadConfig({ SHIPPING_URL: 'not a url' }, registry)).toThrow(ConfigError);
    expect(() => loadConfig({ SHIPPING_URL: 'not a url' }, registry)).toThrow(
      /SHIPPING_URL="not a url": expected an absolute URL/,
    );
    expect(loadConfig({ SHIPPING_URL: 'https://shipping.example.com' }, registry).NODE_ENV).toBe('development');
  });

  it('documents its variables in the generated block of .env.example', () => {
    const next = renderEnvExample(envExample, registry, fileDropIntegrations);
    expect(next).toContain(
      [
        '# shipping: Create and track parcels. Owner: fulfilment-team.',
        '# Base URL of the shipping provider.',
        'SHIPPING_URL=',
        '# API key of the shipping provider. Secret: never logged.',
        'SHIPPING_API_KEY=',
      ].join('\n'),
    );
    expect(next).toMatch(/^SHIPPING_API_KEY_FILE=$/m);
    // Everything outside the generated block is left as written.
    expect(
      next.replace(
        integrationsEnvBlock(registry, fileDropIntegrations),
        integrationsEnvBlock(integrations, fileDropIntegrations),
      ),
    ).toBe(envExample);
  });

  it('gets its activities, on its own queue, and a catalog entry', () => {
    const runtime = new IntegrationEngine({ logger: captureLogs().logger, env: {} });
    const map = activitiesOf(registry, runtime, { crm: {} });
    expect(Object.keys(map)).toEqual([...Object.keys(integrations), 'shipping']);
    expect(Object.keys(map.shipping).sort()).toEqual(['shippingCreateShipment', 'shippingGetShipment']);
    const entry = catalog(Object.values(registry)).find((e) => e.name === 'shipping');
    expect(entry).toMatchObject({
      owner: 'fulfilment-team',
      taskQueue: 'integration-shipping',
      baseUrl: { variable: 'SHIPPING_URL' },
      endpoints: [
        { activity: 'shippingCreateShipment', method: 'POST', path: 'shipments', idempotency: 'key' },
        { activity: 'shippingGetShipment', method: 'GET', path: 'shipments/:id', idempotency: 'safe' },
      ],
    });
  });

  describe('a call through it, with the dev credentials, against a real HTTP server', () => {
    const credentials = devCredentials(registry);
    const apiKey = credentials.sandboxEnv.SANDBOX_SHIPPING_API_KEY!;
    const shipments = new Map<string, { id: string; orderId: string; status: 'created' }>();
    const requests: { method: string; url: string }[] = [];
    let server: Server;
    let sandboxUrl: string;

    beforeAll(async () => {
      // The provider's sandbox, as small as it gets: an API key, a keyed create and a read.
      server = createServer((req, res) => {
        void body(req).then((text) => {
          requests.push({ method: req.method ?? '', url: req.url ?? '' });
          const reply = (status: number, value: unknown) => {
            res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));
          };
          if (req.headers['x-api-key'] !== apiKey) return reply(401, { error: 'unauthorized' });
          if (req.method === 'POST' && req.url === '/shipping/shipments') {
            const key = String(req.headers['idempotency-key']);
            const { orderId } = JSON.parse(text) as { orderId: string };
            if (!shipments.has(key))
              shipments.set(key, { id: `shp_${shipments.size + 1}`, orderId, status: 'created' });
            return reply(201, shipments.get(key));
          }
          const id = /^\/shipping\/shipments\/([\w-]+)$/.exec(req.url ?? '')?.[1];
          if (req.method === 'GET' && id) {
            const found = [...shipments.values()].find((s) => s.id === id);
            return found ? reply(200, found) : reply(404, { error: 'not found' });
          }
          reply(404, { error: 'no route' });
        });
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      sandboxUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

    it('points it at the sandbox: its base URL under the sandbox URL, its key shared with the sandbox', () => {
      expect(credentials.integrationEnv(sandboxUrl)).toMatchObject({
        SHIPPING_URL: `${sandboxUrl}/shipping`,
        SHIPPING_API_KEY: apiKey,
      });
    });

    it('creates a shipment once and reads it back, through its activities on the real engine', async () => {
      const runtime = new IntegrationEngine({
        logger: captureLogs().logger,
        env: { NODE_ENV: 'test', ...credentials.integrationEnv(sandboxUrl) },
      });
      try {
        const activities = activitiesOf(registry, runtime).shipping;
        const run = (name: string, input: ActivityInput) =>
          new MockActivityEnvironment({ attempt: 1 }, { logger: new DefaultLogger('ERROR') }).run(
            activities[name] as (input: ActivityInput) => Promise<unknown>,
            input,
          );
        const key = `order-${randomUUID()}:ship`;
        const created = await run('shippingCreateShipment', { key, body: { orderId: 'ord_1' } });
        expect(created).toEqual({ id: expect.stringMatching(/^shp_/) as string, orderId: 'ord_1', status: 'created' });
        // A resend with the same key is answered with the first shipment.
        await expect(run('shippingCreateShipment', { key, body: { orderId: 'ord_1' } })).resolves.toEqual(created);
        const { id } = created as { id: string };
        await expect(run('shippingGetShipment', { params: { id } })).resolves.toEqual(created);
        await expect(run('shippingGetShipment', { params: { id: 'shp_none' } })).resolves.toBeNull();
        expect(shipments.size).toBe(1);
        expect(requests.map((r) => `${r.method} ${r.url}`)).toEqual([
          'POST /shipping/shipments',
          'POST /shipping/shipments',
          `GET /shipping/shipments/${id}`,
          'GET /shipping/shipments/shp_none',
        ]);
      } finally {
        await runtime.close();
      }
    });
  });
});

function body(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

describe('the README example', () => {
  it('is the fixture, apart from the import paths', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const start = readme.indexOf('// src/integrations/shipping/shipping.integration.ts\n');
    const documented = readme
      .slice(start, readme.indexOf('```', start))
      .replace('// src/integrations/shipping/shipping.integration.ts\n', '')
      .replaceAll("'../kit/", "'../../../src/integrations/kit/");
    const fixture = readFileSync(join(root, 'test', 'fixtures', 'shipping', 'shipping.integration.ts'), 'utf8');
    expect(start).toBeGreaterThan(0);
    expect(fixture.replace(/\n\/\*\*[\s\S]*?\*\/\n/, '')).toBe(documented);
  });
});
