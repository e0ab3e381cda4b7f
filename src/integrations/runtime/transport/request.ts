import type { EndpointSpec, GraphqlOperation, Integration } from '../../kit/define';
import type { ActivityInput } from '../call/call';
import type { SecretSource } from '../secrets';
import { checkBaseUrl } from '../url-policy';

/** Which base URLs are allowed: HTTPS only in production, except hosts listed in `ALLOW_HTTP_HOSTS`. */
export interface UrlRules {
  /** As in the config module: development unless said otherwise (production images set it). */
  nodeEnv: string;
  allowHttpHosts: readonly string[];
}

export function urlRulesFrom(env: NodeJS.ProcessEnv): UrlRules {
  return {
    nodeEnv: env.NODE_ENV || 'development',
    allowHttpHosts: (env.ALLOW_HTTP_HOSTS ?? '')
      .split(',')
      .map((h) => h.trim())
      .filter(Boolean),
  };
}

/** An integration's base URL, read at call time and checked against the rules. */
export function baseUrlOf(integration: Integration, secrets: SecretSource, rules: UrlRules): URL {
  return checkBaseUrl(secrets.value(integration.baseUrl), rules.nodeEnv, rules.allowHttpHosts);
}

/** The request one attempt sends. */
export interface ProviderRequest {
  origin: string;
  method: string;
  /** Path and query. */
  path: string;
  /** Origin and path, never the query string: what logs and failure details show. */
  logUrl: string;
  headers: Record<string, string>;
  body?: string;
}

/** The input cannot make a valid request: our bug, or a workflow's; no retry will fix it. */
export class InputError extends Error {
  override readonly name = 'InputError';
}

/** Builds the request from the endpoint's declaration and the checked input. */
export function buildRequest(
  integration: Integration,
  spec: EndpointSpec,
  input: ActivityInput,
  base: URL,
): ProviderRequest {
  const params = spec.params ? parseInput(spec.params, input.params, 'params') : {};
  const query = spec.query ? parseInput(spec.query, input.query ?? {}, 'query') : undefined;
  const body = spec.graphql
    ? graphqlBody(spec.graphql, input.variables)
    : spec.body
      ? parseInput(spec.body, input.body, 'body')
      : undefined;
  const keyed = spec.idempotency !== 'safe' && integration.idempotency !== undefined;
  if (keyed && !input.key) {
    throw new InputError(`a write needs an idempotency key: pass { key: stepKey('<step>') } from the workflow`);
  }
  const path = spec.path.replace(/:(\w+)/g, (_match, name: string) => {
    const value = (params as Record<string, unknown>)[name];
    if (typeof value !== 'string' && typeof value !== 'number')
      throw new InputError(`path parameter ${name} is missing`);
    return encodeURIComponent(value);
  });
  const fullPath = `${base.pathname.replace(/\/$/, '')}/${path.replace(/^\//, '')}`;
  const search = query
    ? new URLSearchParams(
        Object.entries(query as Record<string, unknown>)
          .filter(([, value]) => value !== undefined)
          .map(([name, value]): [string, string] => [name, String(value)]),
      ).toString()
    : '';
  const headers: Record<string, string> = { accept: 'application/json', 'user-agent': 'durable-integrations' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (keyed && input.key) headers[integration.idempotency!.header.toLowerCase()] = input.key;
  return {
    origin: base.origin,
    method: spec.method,
    path: search ? `${fullPath}?${search}` : fullPath,
    logUrl: `${base.origin}${fullPath}`,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  };
}

/** A GraphQL request body: the document, its checked variables and the operation to run. */
function graphqlBody(op: GraphqlOperation, variables: unknown): Record<string, unknown> {
  return {
    query: op.document,
    variables: op.variables ? parseInput(op.variables, variables, 'variables') : {},
    ...(op.operationName ? { operationName: op.operationName } : {}),
  };
}

function parseInput(schema: NonNullable<EndpointSpec['body']>, value: unknown, field: string): unknown {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.slice(0, 3).map((i) => `${[field, ...i.path].join('.')}: ${i.message}`);
  throw new InputError(`input does not match the endpoint's schema: ${issues.join('; ')}`);
}
