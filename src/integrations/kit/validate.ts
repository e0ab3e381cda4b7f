import type { Duration } from '@temporalio/common';
import type { EndpointSpec, IntegrationSpec } from './define';
import { durationMs } from './duration';
import { graphqlFailureTypes, scanDocument } from './graphql';
import { resolveProfile } from './profiles';
import { validateSupport } from './support';

/** Reports a bad field of a declaration: throws, naming the integration and the field. */
type Fail = (field: string, message: string) => never;

/**
 * The checks `defineIntegration` runs on a declaration before anything uses it, each failing with the
 * field and what to write instead: names, idempotency and lookups, fallbacks, budgets inside the
 * provider's key retention, the hello endpoint, pollers and trace propagation.
 */
export function validateIntegration<E extends Record<string, EndpointSpec>>(
  spec: IntegrationSpec<E>,
  fail: Fail,
): void {
  if (!/^[a-z][a-z0-9]*$/.test(spec.name)) fail('name', 'lower-case letters and digits, starting with a letter');
  validateSupport(spec.support, fail);
  const retentionMs = spec.idempotency ? durationMs(spec.idempotency.retention) : undefined;
  for (const [name, ep] of Object.entries(spec.endpoints)) {
    const where = `endpoints.${name}`;
    if (ep.idempotency === 'key' && !spec.idempotency)
      fail(where, 'sends an idempotency key but the integration declares no idempotency header');
    if (ep.idempotency === 'lookup' && !ep.lookup)
      fail(where, "idempotency 'lookup' needs `lookup: { endpoint: '<endpoint>', input: (key) => ... }`");
    if (ep.lookup) {
      const read = spec.endpoints[ep.lookup.endpoint];
      if (!read) fail(`${where}.lookup`, `no endpoint named "${ep.lookup.endpoint}"`);
      else if (read.idempotency !== 'safe') fail(`${where}.lookup`, `"${ep.lookup.endpoint}" must be a safe read`);
    }
    const profile = resolveProfile(ep.profile, ep.overrides);
    if (ep.graphql) validateGraphql(ep, `${where}.graphql`, fail);
    if (ep.fallback) validateFallback(ep, `${where}.fallback`, fail);
    if (ep.idempotency === 'key' && retentionMs !== undefined) {
      const budget = durationMs(profile.scheduleToClose);
      if (budget >= retentionMs) {
        fail(
          where,
          `its ${ep.profile} budget (${String(profile.scheduleToClose)}) must end inside the provider's key retention (${spec.idempotency!.retention})`,
        );
      }
    }
  }
  if (spec.propagateTraceContext !== undefined && typeof spec.propagateTraceContext !== 'boolean')
    fail(
      'propagateTraceContext',
      `expected true (send W3C traceparent to this provider) or false (the default), got ${JSON.stringify(spec.propagateTraceContext)}`,
    );
  if (spec.hello && !(spec.hello in spec.endpoints)) fail('hello', `no endpoint named "${spec.hello}"`);
  for (const [name, poller] of Object.entries(spec.pollers ?? {})) {
    if (!(poller.endpoint in spec.endpoints))
      fail(`pollers.${name}.endpoint`, `no endpoint named "${poller.endpoint}"`);
    if (spec.endpoints[poller.endpoint]!.idempotency !== 'safe')
      fail(`pollers.${name}`, 'a poller must poll a safe read');
  }
  if (spec.statusPage) validateStatusPage(spec.statusPage, fail);
}

function validateStatusPage(page: NonNullable<IntegrationSpec<never>['statusPage']>, fail: Fail): void {
  if (page.url?.kind !== 'env') fail('statusPage.url', "the variable that holds the page's URL: env('<NAME>')");
  if (page.pollEvery !== undefined && durationOf(page.pollEvery, 'statusPage.pollEvery', fail) < 5_000)
    fail('statusPage.pollEvery', 'poll a status page every 5 seconds at the most often');
  for (const component of page.components ?? [])
    if (typeof component !== 'string' || component.trim() === '')
      fail('statusPage.components', 'component names as the page spells them, e.g. ["API"]');
}

/**
 * A GraphQL endpoint: the document read far enough to know the operation that is sent, its type agreeing
 * with the declaration and the endpoint's idempotency, its variables with the variables schema.
 */
function validateGraphql(ep: EndpointSpec, field: string, fail: Fail): void {
  const op = ep.graphql!;
  const scanned = scanDocument(op.document);
  if (typeof scanned === 'string') return fail(`${field}.document`, `cannot be read: ${scanned}`);
  if (scanned.length > 1 && !op.operationName)
    fail(`${field}.operationName`, `the document holds ${scanned.length} operations: name the one to send`);
  const sent = op.operationName ? scanned.find((o) => o.name === op.operationName) : scanned[0];
  if (!sent) return fail(`${field}.operationName`, `the document has no operation named "${op.operationName}"`);
  if (sent.type === 'subscription')
    fail(`${field}.document`, 'a subscription is a stream, not a call: declare a query or a mutation');
  if (sent.type !== op.operation)
    fail(`${field}.operation`, `declared '${op.operation}' but the document's operation is a ${sent.type}`);
  if (op.operation === 'query' && ep.idempotency !== 'safe')
    fail(field, `a query is a safe read: leave idempotency unset (got '${ep.idempotency}')`);
  if (op.operation === 'mutation' && ep.idempotency === 'safe')
    fail(field, "a mutation is a write: idempotency 'key' (the default) or 'lookup'");
  if (ep.body || ep.query || ep.params) fail(field, 'a GraphQL endpoint takes `variables`, not params, query or body');
  if (sent.variables.length > 0 && !op.variables)
    fail(
      `${field}.variables`,
      `the document declares ${sent.variables.map((v) => `$${v}`).join(', ')}: declare their schema, e.g. z.object({ ${sent.variables[0]}: z.string() })`,
    );
  const shape = (op.variables as { shape?: Record<string, unknown> } | undefined)?.shape;
  if (shape) {
    for (const name of sent.variables)
      if (!(name in shape))
        fail(`${field}.variables.${name}`, `$${name} is declared by the document but not by the schema`);
    for (const name of Object.keys(shape))
      if (!sent.variables.includes(name))
        fail(
          `${field}.variables.${name}`,
          `not declared by the document's operation (add $${name} to it or remove it)`,
        );
  }
  for (const [code, type] of Object.entries(op.codes ?? {}))
    if (!(graphqlFailureTypes as readonly string[]).includes(type))
      fail(`${field}.codes.${code}`, `expected one of ${graphqlFailureTypes.join(', ')}, got ${JSON.stringify(type)}`);
}

/** A declared duration in ms, or a failure naming the field: e.g. `'30 seconds'`, `'10 minutes'`. */
function durationOf(value: Duration, field: string, fail: Fail): number {
  let ms: number;
  try {
    ms = durationMs(value);
  } catch {
    return fail(field, `expected a duration such as '30 seconds' or '10 minutes', got ${JSON.stringify(value)}`);
  }
  if (!Number.isFinite(ms) || ms < 0) fail(field, `expected a duration of 0 or longer, got ${JSON.stringify(value)}`);
  return ms;
}

function validateFallback(ep: EndpointSpec, field: string, fail: Fail): void {
  const fallback = ep.fallback!;
  if (ep.idempotency !== 'safe')
    fail(field, `only a safe read may declare a fallback (this endpoint is idempotency '${ep.idempotency}')`);
  if (fallback.cache) {
    const fresh = durationOf(fallback.cache.fresh, `${field}.cache.fresh`, fail);
    const stale = durationOf(fallback.cache.stale, `${field}.cache.stale`, fail);
    if (fresh + stale <= 0) fail(`${field}.cache`, 'fresh + stale must be longer than 0');
  }
  if ('default' in fallback && !ep.response.safeParse(fallback.default).success)
    fail(`${field}.default`, "does not match the endpoint's response schema");
  if (!fallback.cache && !('default' in fallback)) fail(field, 'declare `cache`, `default` or both');
}
