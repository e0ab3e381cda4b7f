import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileDropIntegrations, integrationNames as registryNames, integrations } from '../../src/integrations';
import { integrationRecords, MANIFEST_PATH, manifestSource } from '../../src/integrations/kit/manifest';
import { defineIntegration, get, post, type IntegrationRegistry } from '../../src/integrations/kit/define';
import type { FileDropRegistry } from '../../src/integrations/kit/file-drop';
import type { FileDropView, IntegrationView } from '../../src/integrations/kit/view';
import { env } from '../../src/integrations/kit/refs';
import { fileDropViews, integrationNames, integrationViews } from '../../src/integrations/manifest.generated';
import { z } from 'zod';

/**
 * The workflow-side manifest (src/integrations/manifest.generated.ts) against the declarations it is
 * generated from: up to date, and answering what workflow code asks exactly as the declarations do.
 */
describe('the workflow-side manifest of the integrations', () => {
  it('is up to date with the declarations (else: npm run integrations:manifest)', () => {
    const onDisk = readFileSync(join(__dirname, '..', '..', MANIFEST_PATH), 'utf8');
    expect(onDisk).toBe(manifestSource(integrations, fileDropIntegrations));
  });

  it('answers activity names, profiles, idempotency, lookups and key retention as the declarations do', () => {
    expect(integrationNames).toEqual(registryNames);
    const views = integrationViews as unknown as Record<string, IntegrationView>;
    for (const [name, integration] of Object.entries(integrations as IntegrationRegistry)) {
      const view = views[name]!;
      expect(view.name).toBe(integration.name);
      expect(view.idempotency?.retention).toEqual(integration.idempotency?.retention);
      for (const [endpoint, spec] of Object.entries(integration.endpoints)) {
        expect(view.activityName(endpoint)).toBe(integration.activityName(endpoint));
        expect(view.profileOf(endpoint)).toEqual(integration.profileOf(endpoint));
        const viewed = view.endpoints[endpoint]!;
        expect(viewed.idempotency).toBe(spec.idempotency);
        expect(viewed.lookup?.endpoint).toBe(spec.lookup?.endpoint);
        if (spec.lookup) expect(viewed.lookup!.input('wf-7:charge')).toEqual(spec.lookup.input('wf-7:charge'));
      }
      for (const poller of Object.keys(integration.pollers ?? {}))
        for (const mode of ['heartbeat', 'once'] as const)
          expect(view.pollerActivityName(poller, mode)).toBe(integration.pollerActivityName(poller, mode));
    }
    const fileViews = fileDropViews as unknown as Record<string, FileDropView>;
    for (const [name, integration] of Object.entries(fileDropIntegrations as FileDropRegistry)) {
      const view = fileViews[name]!;
      for (const [endpoint, spec] of Object.entries(integration.endpoints)) {
        expect(view.activityName(endpoint)).toBe(integration.activityName(endpoint));
        expect(view.profileOf(endpoint)).toEqual(integration.profileOf(endpoint));
        expect(view.endpoints[endpoint]).toEqual({
          kind: spec.kind,
          ...(spec.kind === 'awaitFile' && spec.interval ? { interval: spec.interval } : {}),
        });
      }
    }
  });

  it('refuses a lookup whose input does more than place the key, which data cannot record', () => {
    const declare = (input: (key: string) => { query: unknown }) =>
      defineIntegration({
        name: 'shop',
        version: 'v1',
        purpose: 'test',
        owner: 'test',
        baseUrl: env('SHOP_URL'),
        auth: { kind: 'none' },
        idempotency: { header: 'Idempotency-Key', retention: '1 day' },
        endpoints: {
          find: get('orders', { query: z.object({ ref: z.string() }), response: z.unknown(), notFound: 'null' }),
          create: post('orders', { response: z.unknown(), lookup: { endpoint: 'find', input } }),
        },
      });
    expect(
      integrationRecords({ shop: declare((key) => ({ query: { ref: `ord-${key}` } })) }).shop!.endpoints.create,
    ).toMatchObject({ lookup: { endpoint: 'find', input: { query: { ref: 'ord-<key>' } } } });
    expect(() => integrationRecords({ shop: declare((key) => ({ query: { ref: key.toUpperCase() } })) })).toThrow(
      /integration "shop": endpoints\.create\.lookup\.input: it must put the key as it is/,
    );
  });
});
