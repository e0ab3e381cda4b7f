import { ValueError, type Payload, type PayloadCodec } from '@temporalio/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { createEdgeServer, EdgeRejection, isLoopbackHost, listenEdge, parseJsonSafely } from '../http/edge-server';
import { createLogger, type Logger } from '../observability/logger';
import { codecMetrics, metricsRoute, processRegistry } from '../observability/metrics';
import { startOpsServer, type OpsServer } from '../observability/ops-server';
import { AuthFailure, CodecAuthenticator, type Caller, type CodecAuthOptions, type CodecOperation } from './auth';

/**
 * Temporal's remote codec protocol, for the Web UI and the CLI (`--codec-endpoint`):
 * `POST [/<namespace>]/decode` and `/encode` with `{ "payloads": [...] }`, each payload in proto JSON
 * (`metadata` values and `data` base64), answered in the same shape. The UI calls it from the browser,
 * so it answers CORS (preflight included, with exactly the headers the UI sends: `content-type`,
 * `x-namespace`, `authorization`) for the UI's origins only.
 *
 * With `auth`, every call needs a bearer JWT verified against the identity provider's JWKS (401) whose
 * roles may decode (or encode: a permission of its own) that namespace (403). Without it, it serves
 * loopback only: it refuses to listen on any other interface.
 */
export interface CodecServerOptions {
  codec: PayloadCodec;
  /** @default 127.0.0.1 */
  host?: string;
  /** 0 picks a free port. @default 0 */
  port?: number;
  /** Browser origins allowed to call it (the Web UI's), exact `scheme://host:port`. @default none */
  corsOrigins?: readonly string[];
  /** Required beyond loopback. @default none (loopback only) */
  auth?: CodecAuthOptions;
  /** Larger requests get 413. @default 4 MiB */
  maxBodyBytes?: number;
  /** @default 5000 ms */
  headersTimeoutMs?: number;
  /** @default 30000 ms */
  requestTimeoutMs?: number;
  /** Operations port (`/livez`, `/readyz` = `ready()`, Prometheus's `/metrics`). @default none */
  ops?: { host: string; port: number; ready?: () => boolean };
  /** Node's process metrics (`process_*`, `nodejs_*`) in `/metrics`, besides the codec ones. @default true */
  processMetrics?: boolean;
  logger?: Logger;
}

export interface CodecServer {
  /** `http://host:port`: what `--ui-codec-endpoint` and `--codec-endpoint` take. */
  url: string;
  opsUrl?: string;
  /** Prometheus's scrape URL (`<opsUrl>/metrics`), when `ops` was given. */
  metricsUrl?: string;
  /** Whether callers must authenticate. */
  authenticated: boolean;
  close(): Promise<void>;
}

interface JsonPayload {
  metadata?: Record<string, string>;
  data?: string;
}

// Proto JSON accepts both base64 alphabets, padded or not.
const base64 = /^[A-Za-z0-9+/_-]*={0,2}$/;
/** Exactly what the Web UI sends: its JSON body, the namespace, and the user's token ("pass access token"). */
const allowedHeaders = 'authorization, content-type, x-namespace';
const namespacePattern = /^[\w.-]{1,255}$/;

/** Checks `CODEC_CORS_ORIGINS`-style lists: comma-separated exact origins, no paths, no wildcard. */
export function parseCorsOrigins(spec: string, source = 'CODEC_CORS_ORIGINS'): string[] {
  return spec
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((origin) => {
      let parsed: URL | undefined;
      try {
        parsed = new URL(origin);
      } catch {
        parsed = undefined;
      }
      if (!parsed || parsed.origin !== origin || !/^https?:$/.test(parsed.protocol)) {
        throw new Error(
          `${source}: ${JSON.stringify(origin)} is not an origin; expected scheme://host[:port] with no path, e.g. http://127.0.0.1:8233`,
        );
      }
      return origin;
    });
}

const invalid = (message: string) => new EdgeRejection(400, 'invalid_payload', message);

function fromJson(value: unknown, index: number): Payload {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalid(`payloads[${index}] is not an object`);
  }
  const metadata = Object.hasOwn(value, 'metadata') ? (value as { metadata: unknown }).metadata : undefined;
  const data = Object.hasOwn(value, 'data') ? (value as { data: unknown }).data : undefined;
  const decoded: Record<string, Uint8Array> = {};
  if (metadata !== undefined && metadata !== null) {
    if (typeof metadata !== 'object' || Array.isArray(metadata)) {
      throw invalid(`payloads[${index}].metadata is not an object`);
    }
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string' || !base64.test(v)) throw invalid(`payloads[${index}].metadata.${k} is not base64`);
      decoded[k] = Buffer.from(v, 'base64');
    }
  }
  if (data !== undefined && data !== null && (typeof data !== 'string' || !base64.test(data))) {
    throw invalid(`payloads[${index}].data is not base64`);
  }
  return { metadata: decoded, data: Buffer.from(typeof data === 'string' ? data : '', 'base64') };
}

function toJson(payload: Payload): JsonPayload {
  return {
    metadata: Object.fromEntries(
      Object.entries(payload.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
    ),
    // Always present (even empty): the UI reads it unconditionally.
    data: Buffer.from(payload.data ?? new Uint8Array()).toString('base64'),
  };
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** The namespace of a call: its path prefix, else `X-Namespace`, else `default`; both given must agree. */
function namespaceOf(request: FastifyRequest): string {
  const fromPath = (request.params as { namespace?: string }).namespace;
  const fromHeader = single(request.headers['x-namespace'])?.trim();
  if (fromPath !== undefined && fromHeader !== undefined && fromHeader !== '' && fromPath !== fromHeader) {
    throw new EdgeRejection(400, 'namespace_mismatch', 'the path and X-Namespace name different namespaces');
  }
  const namespace = fromPath ?? (fromHeader || 'default');
  if (!namespacePattern.test(namespace)) throw new EdgeRejection(400, 'invalid_namespace', 'not a namespace name');
  return namespace;
}

const callers = new WeakMap<FastifyRequest, Caller>();

export async function startCodecServer(options: CodecServerOptions): Promise<CodecServer> {
  const { codec, logger } = options;
  const host = options.host ?? '127.0.0.1';
  if (!options.auth && !isLoopbackHost(host)) {
    throw new Error(
      `the codec server decrypts for whoever reaches it: it listens beyond loopback (${host}) only with auth ` +
        'configured (CODEC_AUTH_JWKS_URL, CODEC_AUTH_ISSUER, CODEC_AUTH_AUDIENCE, CODEC_AUTH_ROLES); or set CODEC_HOST=127.0.0.1',
    );
  }
  const auth = options.auth ? new CodecAuthenticator(options.auth) : undefined;
  const origins = new Set(options.corsOrigins ?? []);
  const maxBodyBytes = options.maxBodyBytes ?? 4 * 1024 * 1024;

  function corsHeaders(origin: string | undefined): Record<string, string> {
    return origin !== undefined && origins.has(origin)
      ? { 'access-control-allow-origin': origin, 'access-control-allow-credentials': 'true' }
      : {};
  }
  // Decrypted data: no cache anywhere. Vary: the CORS answer depends on the origin.
  const always = { 'cache-control': 'no-store', vary: 'Origin' };

  // Prometheus (the operations port): requests by operation and outcome, never a subject, namespace or payload.
  const registry = processRegistry({ processMetrics: options.processMetrics });
  const metrics = codecMetrics(registry);

  const app = createEdgeServer({
    limits: {
      maxBodyBytes,
      headersTimeoutMs: options.headersTimeoutMs ?? 5_000,
      requestTimeoutMs: options.requestTimeoutMs ?? 30_000,
    },
    onRejected(rejection, request, error) {
      // A request the server cut off before it had one (slow or malformed HTTP) is answered without Fastify.
      if (!request) metrics.answered(undefined, rejection.status);
      const fields = {
        event: 'codec.rejected',
        status: rejection.status,
        reason: rejection.reason,
        ...(request ? { path: request.url.split('?')[0] } : {}),
        ...(error instanceof AuthFailure ? { cause: error.internal } : {}),
      };
      // Reasons and jose codes only: never tokens, payload contents or key material.
      if (rejection.status >= 500 && rejection.reason === 'internal_error') {
        logger?.error({ ...fields, error: (error as Error | undefined)?.message }, 'codec request failed');
      } else {
        const message = (error as { logged?: string } | undefined)?.logged;
        logger?.warn({ ...fields, ...(message ? { error: message } : {}) }, `codec request rejected: ${fields.reason}`);
      }
    },
    errorHeaders: (request) => ({ ...always, ...corsHeaders(single(request.headers.origin)) }),
  });

  // Every answer, whatever produced it (the handler, a check, the 404 handler), counted once by its status.
  app.addHook('onResponse', (request, reply, done) => {
    metrics.answered((request.params as { operation?: string } | undefined)?.operation, reply.statusCode);
    done();
  });

  // Bodies: JSON only; bytes kept, parsed below without prototype keys.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(/^application\/json\b/i, { parseAs: 'buffer', bodyLimit: maxBodyBytes }, (_r, body, done) =>
    done(null, body),
  );

  async function guard(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
    const operation = (request.params as { operation: string }).operation;
    if (operation !== 'decode' && operation !== 'encode')
      throw new EdgeRejection(404, 'not_found', 'use /decode or /encode');
    const origin = single(request.headers.origin);
    const cors = corsHeaders(origin);
    if (request.method === 'OPTIONS') {
      // CORS preflight (browsers send no credentials on it): granted to the configured origins only.
      if (!cors['access-control-allow-origin'])
        throw new EdgeRejection(403, 'origin_not_allowed', 'this origin may not call the codec server');
      const privateNetwork = request.headers['access-control-request-private-network'] === 'true';
      return reply
        .code(204)
        .headers({
          ...always,
          ...cors,
          'access-control-allow-methods': 'POST, OPTIONS',
          'access-control-allow-headers': allowedHeaders,
          'access-control-max-age': '600',
          ...(privateNetwork ? { 'access-control-allow-private-network': 'true' } : {}),
        })
        .send();
    }
    if (request.method !== 'POST')
      throw new EdgeRejection(405, 'method_not_allowed', 'use POST', { allow: 'POST, OPTIONS' });
    // A browser page from any other origin is refused outright (the CLI sends no Origin).
    if (origin !== undefined && !cors['access-control-allow-origin']) {
      throw new EdgeRejection(403, 'origin_not_allowed', 'this origin may not call the codec server');
    }
    const namespace = namespaceOf(request);
    if (auth) {
      const caller = await auth.authenticate(single(request.headers.authorization));
      auth.authorize(caller, operation, namespace);
      callers.set(request, caller);
    }
    const type = single(request.headers['content-type']) ?? '';
    if (!/^application\/json\b/i.test(type))
      throw new EdgeRejection(415, 'unsupported_media_type', 'send Content-Type: application/json');
    const declared = Number(request.headers['content-length']);
    if (Number.isFinite(declared) && declared > maxBodyBytes) {
      throw new EdgeRejection(413, 'payload_too_large', `request body over ${maxBodyBytes} bytes`);
    }
    return undefined;
  }

  async function handle(request: FastifyRequest, reply: FastifyReply): Promise<unknown> {
    if (reply.sent) return reply;
    const operation = (request.params as { operation: CodecOperation }).operation;
    const namespace = namespaceOf(request);
    const raw = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
    const json = parseJsonSafely(raw.toString('utf8'));
    if (!json.ok) throw new EdgeRejection(400, 'malformed_json', 'the body is not valid JSON');
    const body = json.value;
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new EdgeRejection(400, 'invalid_body', 'expected { "payloads": [...] }');
    }
    // Proto3 JSON omits an empty repeated field: the CLI sends `{}` for no payloads.
    const list = Object.hasOwn(body, 'payloads') ? (body as { payloads: unknown }).payloads : [];
    if (!Array.isArray(list)) throw new EdgeRejection(400, 'invalid_body', 'expected { "payloads": [...] }');
    const input = list.map(fromJson);
    let output: Payload[];
    try {
      output = operation === 'decode' ? await codec.decode(input) : await codec.encode(input);
    } catch (err) {
      // The full message (key ids) goes to the log; the answer says only what the caller can act on.
      if (err instanceof ValueError) {
        throw Object.assign(
          new EdgeRejection(
            400,
            `${operation}_failed`,
            operation === 'decode'
              ? 'a payload cannot be decrypted with the keys of this codec server (wrong key, altered, or not a payload)'
              : 'the payloads cannot be encoded',
          ),
          { logged: err.message },
        );
      }
      throw err;
    }
    const caller = callers.get(request);
    // Who decoded what: the audit trail of reading decrypted data (no contents).
    logger?.info(
      {
        event: `codec.${operation}`,
        payloads: input.length,
        namespace,
        ...(caller ? { subject: caller.subject, roles: caller.roles } : {}),
      },
      `${operation}d ${input.length} payloads`,
    );
    return reply
      .code(200)
      .headers({ ...always, ...corsHeaders(single(request.headers.origin)) })
      .send({ payloads: output.map(toJson) });
  }

  for (const url of ['/:operation', '/:namespace/:operation']) {
    app.route({
      method: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'],
      url,
      bodyLimit: maxBodyBytes,
      onRequest: guard,
      handler: handle,
    });
  }

  const url = await listenEdge(app, host, options.port ?? 0);
  let ops: OpsServer | undefined;
  if (options.ops) {
    const ready = options.ops.ready ?? (() => true);
    try {
      ops = await startOpsServer({
        name: 'codec',
        host: options.ops.host,
        port: options.ops.port,
        logger: logger ?? createLogger({ name: 'codec', level: 'silent' }),
        checks: [{ name: 'keys', check: ready }],
        routes: metricsRoute(registry),
      });
    } catch (err) {
      await app.close();
      throw err;
    }
  }
  return {
    url,
    ...(ops ? { opsUrl: ops.url, metricsUrl: `${ops.url}/metrics` } : {}),
    authenticated: auth !== undefined,
    close: async () => {
      await app.close();
      await ops?.close();
    },
  };
}
