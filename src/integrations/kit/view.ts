import type { Duration } from '@temporalio/common';
import type { EndpointLookup, IdempotencyMode, Integration } from './define';
import type { FileDropIntegration } from './file-drop';
import { resolveProfile, type Profile, type ProfileName, type ProfileOverrides } from './profiles';

/**
 * The workflow side of a declaration: what workflow code needs of an integration (activity names,
 * idempotency, lookups, profiles, key retention), as plain data, without its zod schemas. Workflow code is
 * bundled and every cached workflow evaluates its own copy of the modules it imports, so loading the
 * declarations (and zod with them) cost each open workflow ~1.5 MB (bench/memory.ts). The records are
 * generated from the registry into src/integrations/manifest.generated.ts (`npm run integrations:manifest`,
 * src/integrations/kit/manifest.ts); their types still come from the declarations (`import type`).
 * Workflow-safe: data and arithmetic only.
 */

/** Stands for the idempotency key in a recorded lookup input; replaced by the key when a workflow looks up. */
export const LOOKUP_KEY = '<key>';

export interface EndpointRecord {
  /** The endpoint's activity type. */
  activity: string;
  idempotency: IdempotencyMode;
  profile: ProfileName;
  overrides?: ProfileOverrides;
  /** The declared lookup, its input recorded with {@link LOOKUP_KEY} where the key goes. */
  lookup?: { endpoint: string; input: unknown };
}

export interface IntegrationRecord {
  name: string;
  /** The provider's key retention, when the integration sends idempotency keys. */
  idempotency?: { retention: Duration };
  endpoints: Record<string, EndpointRecord>;
  /** Each poller's activity types, heartbeating and check-once. */
  pollers?: Record<string, { endpoint: string; heartbeat: string; once: string }>;
}

export interface FileEndpointRecord {
  activity: string;
  kind: 'upload' | 'awaitFile';
  profile: ProfileName;
  overrides?: ProfileOverrides;
  interval?: Duration;
}

export interface FileDropRecord {
  name: string;
  endpoints: Record<string, FileEndpointRecord>;
}

/** The endpoints of a declaration's type. */
export type EndpointsOf<I> = I extends { endpoints: infer E } ? E : never;

/**
 * An HTTP integration as workflow code sees it: the part of {@link Integration} workflows use, so
 * `proxyIntegration` takes either. `I` is the declaration's type (`import type`), for typed calls.
 */
export interface IntegrationView<I extends Integration = Integration> {
  readonly name: string;
  readonly idempotency?: { retention: Duration };
  readonly endpoints: {
    readonly [K in keyof EndpointsOf<I>]: { idempotency: IdempotencyMode; lookup?: EndpointLookup };
  };
  activityName(endpoint: keyof EndpointsOf<I> & string): string;
  pollerActivityName(poller: string, mode: 'heartbeat' | 'once'): string;
  profileOf(endpoint: keyof EndpointsOf<I> & string): Profile;
}

/** A file-drop integration as workflow code sees it (see {@link IntegrationView}). */
export interface FileDropView<I extends FileDropIntegration = FileDropIntegration> {
  readonly name: string;
  readonly kind: 'fileDrop';
  readonly endpoints: {
    readonly [K in keyof EndpointsOf<I>]: { kind: 'upload' | 'awaitFile'; interval?: Duration };
  };
  activityName(endpoint: keyof EndpointsOf<I> & string): string;
  profileOf(endpoint: keyof EndpointsOf<I> & string): Profile;
}

/** The lookup input for `key`: the recorded input with {@link LOOKUP_KEY} replaced by it, at any depth. */
export function fillKey(input: unknown, key: string): unknown {
  if (typeof input === 'string') return input.split(LOOKUP_KEY).join(key);
  if (Array.isArray(input)) return input.map((v) => fillKey(v, key));
  if (input !== null && typeof input === 'object')
    return Object.fromEntries(Object.entries(input).map(([k, v]) => [k, fillKey(v, key)]));
  return input;
}

function unknownEndpoint(integration: string, endpoint: string): never {
  throw new Error(
    `integration "${integration}" has no endpoint "${endpoint}" in src/integrations/manifest.generated.ts`,
  );
}

export function integrationView<I extends Integration>(record: IntegrationRecord): IntegrationView<I> {
  const endpoint = (name: string) => record.endpoints[name] ?? unknownEndpoint(record.name, name);
  const endpoints = Object.fromEntries(
    Object.entries(record.endpoints).map(([name, e]) => {
      const lookup = e.lookup;
      return [
        name,
        {
          idempotency: e.idempotency,
          ...(lookup
            ? {
                lookup: {
                  endpoint: lookup.endpoint,
                  input: (key: string) => fillKey(lookup.input, key) as ReturnType<EndpointLookup['input']>,
                },
              }
            : {}),
        },
      ];
    }),
  );
  return {
    name: record.name,
    ...(record.idempotency ? { idempotency: record.idempotency } : {}),
    endpoints: endpoints as IntegrationView<I>['endpoints'],
    activityName: (name) => endpoint(name).activity,
    pollerActivityName: (poller, mode) => {
      const activities = record.pollers?.[poller];
      if (!activities) throw new Error(`integration "${record.name}" has no poller "${poller}"`);
      return mode === 'once' ? activities.once : activities.heartbeat;
    },
    profileOf: (name) => resolveProfile(endpoint(name).profile, endpoint(name).overrides),
  };
}

export function fileDropView<I extends FileDropIntegration>(record: FileDropRecord): FileDropView<I> {
  const endpoint = (name: string) => record.endpoints[name] ?? unknownEndpoint(record.name, name);
  const endpoints = Object.fromEntries(
    Object.entries(record.endpoints).map(([name, e]) => [
      name,
      { kind: e.kind, ...(e.interval !== undefined ? { interval: e.interval } : {}) },
    ]),
  );
  return {
    name: record.name,
    kind: 'fileDrop',
    endpoints: endpoints as FileDropView<I>['endpoints'],
    activityName: (name) => endpoint(name).activity,
    profileOf: (name) => resolveProfile(endpoint(name).profile, endpoint(name).overrides),
  };
}
