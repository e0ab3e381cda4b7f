import { isDeepStrictEqual } from 'node:util';
import type { IntegrationRegistry } from './define';
import type { FileDropRegistry } from './file-drop';
import {
  fillKey,
  LOOKUP_KEY,
  type EndpointRecord,
  type FileDropRecord,
  type FileEndpointRecord,
  type IntegrationRecord,
} from './view';

/**
 * The workflow-side manifest (src/integrations/manifest.generated.ts): the registry's declarations as the
 * plain records workflow code uses (kit/view.ts), written by `npm run integrations:manifest`;
 * test/unit/integration-manifest.test.ts fails when the file is out of date with the declarations.
 */

export const MANIFEST_PATH = 'src/integrations/manifest.generated.ts';

/** Keys a lookup input is tried with: the recorded input must give the same answer for each. */
const SAMPLE_KEYS = ['order-1:charge', 'wf/2:run-3:batch-4'];

export function integrationRecords(registry: IntegrationRegistry): Record<string, IntegrationRecord> {
  return Object.fromEntries(
    Object.entries(registry).map(([key, integration]) => {
      const endpoints = Object.fromEntries(
        Object.entries(integration.endpoints).map(([name, spec]): [string, EndpointRecord] => {
          let lookup: EndpointRecord['lookup'];
          if (spec.lookup) {
            const input = spec.lookup.input(LOOKUP_KEY);
            for (const sample of SAMPLE_KEYS)
              if (!isDeepStrictEqual(fillKey(input, sample), spec.lookup.input(sample)))
                throw new Error(
                  `integration "${integration.name}": endpoints.${name}.lookup.input: it must put the key as it is ` +
                    'into its input (e.g. `(key) => ({ query: { correlationId: key } })`): workflow code records it as data',
                );
            lookup = { endpoint: spec.lookup.endpoint, input };
          }
          return [
            name,
            {
              activity: integration.activityName(name),
              idempotency: spec.idempotency,
              profile: spec.profile,
              ...(spec.overrides ? { overrides: spec.overrides } : {}),
              ...(lookup ? { lookup } : {}),
            },
          ];
        }),
      );
      const pollers = integration.pollers
        ? Object.fromEntries(
            Object.entries(integration.pollers).map(([name, poller]) => [
              name,
              {
                endpoint: poller.endpoint,
                heartbeat: integration.pollerActivityName(name, 'heartbeat'),
                once: integration.pollerActivityName(name, 'once'),
              },
            ]),
          )
        : undefined;
      const record: IntegrationRecord = {
        name: integration.name,
        ...(integration.idempotency ? { idempotency: { retention: integration.idempotency.retention } } : {}),
        endpoints,
        ...(pollers ? { pollers } : {}),
      };
      return [key, record];
    }),
  );
}

export function fileDropRecords(registry: FileDropRegistry): Record<string, FileDropRecord> {
  return Object.fromEntries(
    Object.entries(registry).map(([key, integration]) => [
      key,
      {
        name: integration.name,
        endpoints: Object.fromEntries(
          Object.entries(integration.endpoints).map(([name, spec]): [string, FileEndpointRecord] => [
            name,
            {
              activity: integration.activityName(name),
              kind: spec.kind,
              profile: spec.profile,
              ...(spec.overrides ? { overrides: spec.overrides } : {}),
              ...(spec.kind === 'awaitFile' && spec.interval !== undefined ? { interval: spec.interval } : {}),
            },
          ]),
        ),
      },
    ]),
  );
}

/**
 * The manifest's text, as `npm run integrations:manifest` writes it (records as indented JSON; prettier
 * leaves the file alone: .prettierignore), so the test compares text with no formatter in between.
 */
export function manifestSource(registry: IntegrationRegistry, fileDrops: FileDropRegistry): string {
  const json = (value: unknown) => JSON.stringify(value, null, 2).replace(/\n/g, '\n  ');
  const http = Object.entries(integrationRecords(registry)).map(
    ([key, record]) => `  ${key}: integrationView<Registry['${key}']>(${json(record)}),`,
  );
  const files = Object.entries(fileDropRecords(fileDrops)).map(
    ([key, record]) => `  ${key}: fileDropView<FileDropRegistry['${key}']>(${json(record)}),`,
  );
  return [
    '// Generated from the registry (src/integrations/index.ts) by `npm run integrations:manifest`: do not edit.',
    '// test/unit/integration-manifest.test.ts fails when it is out of date with the declarations.',
    '/**',
    ' * The integrations as workflow code sees them (src/integrations/kit/view.ts): activity names, idempotency,',
    ' * lookups, profiles and key retention, without the declarations and their zod schemas, which workflow code',
    ' * must not load (every cached workflow would evaluate its own copy). Their types come from the declarations.',
    ' */',
    "import type { fileDropIntegrations, IntegrationName, integrations } from '.';",
    "import { fileDropView, integrationView } from './kit/view';",
    '',
    'type Registry = typeof integrations;',
    'type FileDropRegistry = typeof fileDropIntegrations;',
    '',
    '/** The registered names, in registry order. */',
    `export const integrationNames: IntegrationName[] = [${Object.keys(registry)
      .map((k) => `'${k}'`)
      .join(', ')}];`,
    '',
    'export const integrationViews = {',
    ...http,
    '} as const;',
    '',
    'export const fileDropViews = {',
    ...files,
    '} as const;',
    '',
  ].join('\n');
}
