import { createServer, type IncomingMessage, type RequestListener, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type ServerOptions as HttpsServerOptions } from 'node:https';
import { BlockList, isIP, type Socket } from 'node:net';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';

/**
 * The one way this project builds a server that faces the network (webhook receiver, codec server,
 * sandbox): Fastify over a node:http server whose limits are all set and enforced.
 *
 * Fastify because it answers every request exactly once (keep-alive and pipelined requests included, in
 * order), caps and reads bodies itself (raw bytes, for signatures), routes with safe parameter decoding
 * and gives one error handler for everything that goes wrong; the project no longer writes an HTTP layer.
 *
 * What every edge gets:
 * - `headersTimeoutMs`: a client that trickles its headers (slowloris), or connects and sends nothing, is
 *   answered 408 and cut; checked every `headersTimeoutMs / 4` (Node's default, 30 s, would make it moot);
 * - `requestTimeoutMs`: the whole request, body included; `idleTimeoutMs`: a socket that moves no byte
 *   (half-open, stalled) is destroyed; `keepAliveTimeoutMs`: between two requests on a connection;
 * - `maxHeaderBytes` (431), `maxBodyBytes` (413), `maxConnections` (further sockets are dropped);
 * - any bad input (malformed target, header forms, bodies, encodings) is a 4xx whose body says why, and
 *   is reported to `onRejected` by a stable reason: the caller counts and logs it. Only a bug is a 500.
 */
export interface EdgeLimits {
  /** @default 5000 ms */
  headersTimeoutMs?: number;
  /** @default 10000 ms */
  requestTimeoutMs?: number;
  /** Socket inactivity (no byte either way) before it is destroyed. @default requestTimeoutMs + 5000 ms */
  idleTimeoutMs?: number;
  /** @default 5000 ms */
  keepAliveTimeoutMs?: number;
  /** @default 16384 bytes */
  maxHeaderBytes?: number;
  /** @default 1 MiB */
  maxBodyBytes?: number;
  /** @default 1024 */
  maxConnections?: number;
}

/** A refusal: its reason is the log field, the counter and the `error` code of the response. */
export class EdgeRejection extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    /** What the caller should do, safe to show to anyone: no internals, no key IDs, no secrets. */
    readonly detail?: string,
    readonly headers: Readonly<Record<string, string>> = {},
    readonly issues?: readonly string[],
  ) {
    super(detail ?? reason);
  }
}

export interface EdgeServerOptions {
  /** Mutual TLS (the sandbox's second port). @default plain HTTP */
  tls?: HttpsServerOptions;
  limits?: EdgeLimits;
  /**
   * Proxies whose `X-Forwarded-For` is believed (IPs or CIDRs): `request.ip` is then the first address,
   * from the right, that is not one of them. Any other peer's `X-Forwarded-For` is ignored. @default none
   */
  trustedProxies?: readonly string[];
  /** Every refusal, 4xx and 5xx, whatever produced it: count and log it here. */
  onRejected: (rejection: EdgeRejection, request: FastifyRequest | undefined, error?: unknown) => void;
  /** The body of an error response. @default `{ error: reason, message: detail }` */
  errorBody?: (rejection: EdgeRejection) => unknown;
  /** Headers added to every error response (CORS, no-store). */
  errorHeaders?: (request: FastifyRequest) => Record<string, string>;
}

export const edgeDefaults = {
  headersTimeoutMs: 5_000,
  requestTimeoutMs: 10_000,
  keepAliveTimeoutMs: 5_000,
  maxHeaderBytes: 16_384,
  maxBodyBytes: 1_048_576,
  maxConnections: 1_024,
} as const;

/** Fastify's own error codes, for input it refuses, as our stable reasons. */
const frameworkReasons: Readonly<Record<string, readonly [number, string, string]>> = {
  FST_ERR_CTP_BODY_TOO_LARGE: [413, 'payload_too_large', 'the body is larger than this endpoint accepts'],
  FST_ERR_CTP_INVALID_MEDIA_TYPE: [415, 'unsupported_media_type', 'send Content-Type: application/json'],
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: [400, 'invalid_content_length', 'Content-Length does not match the body'],
  FST_ERR_CTP_EMPTY_JSON_BODY: [400, 'empty_body', 'the body is empty'],
  FST_ERR_CTP_INVALID_JSON_BODY: [400, 'malformed_json', 'the body is not valid JSON'],
  FST_ERR_CTP_INSTANCE_ALREADY_STARTED: [500, 'internal_error', 'internal error'],
  FST_ERR_BAD_URL: [400, 'bad_url', 'the request target is not a valid URL path'],
  FST_ERR_ASYNC_CONSTRAINT: [400, 'bad_request', 'the request could not be routed'],
  FST_ERR_VALIDATION: [400, 'invalid_request', 'the request does not match the endpoint'],
};

/** Any error as a refusal: ours as is, Fastify's and body-parser ones by code, anything else a 500. */
export function asRejection(err: unknown): EdgeRejection {
  if (err instanceof EdgeRejection) return err;
  const e = err as Partial<FastifyError> & { code?: string; type?: string };
  const known = e.code !== undefined ? frameworkReasons[e.code] : undefined;
  if (known) return new EdgeRejection(known[0], known[1], known[2]);
  if (e.code === 'ECONNRESET' || e.code === 'ECONNABORTED' || e.code === 'ERR_STREAM_PREMATURE_CLOSE') {
    return new EdgeRejection(400, 'client_aborted', 'the client went away mid-request');
  }
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return new EdgeRejection(e.statusCode, 'bad_request', 'the request is not acceptable here');
  }
  return new EdgeRejection(500, 'internal_error', 'internal error');
}

/** A response already started on this socket (a pipelined request behind it must not get a 2nd status line). */
function responding(socket: Socket): boolean {
  const current = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
  return current !== null && current !== undefined && current.headersSent;
}

/** `::ffff:10.0.0.1` is `10.0.0.1`: one form for allow-lists and logs. */
export function normalizeIp(address: string | undefined): string {
  if (address === undefined) return '';
  return address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}

/**
 * An allow-list of IPs and CIDRs (`203.0.113.7`, `198.51.100.0/24`, `2001:db8::/32`). Throws on an entry
 * that is neither, naming `source`.
 */
export function addressList(entries: readonly string[], source: string): { has(ip: string): boolean } {
  const list = new BlockList();
  for (const raw of entries) {
    const entry = raw.trim();
    if (entry === '') continue;
    const [address = '', bits, ...extra] = entry.split('/');
    const family = isIP(address);
    const prefix = bits === undefined ? undefined : Number(bits);
    const max = family === 6 ? 128 : 32;
    if (
      family === 0 ||
      extra.length > 0 ||
      (prefix !== undefined && (!/^\d{1,3}$/.test(bits ?? '') || prefix < 0 || prefix > max))
    ) {
      throw new Error(
        `${source}: ${JSON.stringify(entry)} is not an IP address or CIDR (e.g. 203.0.113.7, 198.51.100.0/24)`,
      );
    }
    const type = family === 6 ? 'ipv6' : 'ipv4';
    if (prefix === undefined) list.addAddress(address, type);
    else list.addSubnet(address, prefix, type);
  }
  return {
    has(ip) {
      const address = normalizeIp(ip);
      const family = isIP(address);
      if (family === 0) return false;
      return list.check(address, family === 6 ? 'ipv6' : 'ipv4');
    },
  };
}

const clientErrors: Readonly<Record<string, readonly [number, string, string, string]>> = {
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'Request Timeout', 'request_timeout', 'the request was not sent in time'],
  HPE_HEADER_OVERFLOW: [431, 'Request Header Fields Too Large', 'headers_too_large', 'the headers are too large'],
};

/**
 * A Fastify instance with every limit of {@link EdgeLimits} enforced and one error path (see above).
 * Register routes, then {@link listenEdge}.
 */
export function createEdgeServer(options: EdgeServerOptions): FastifyInstance {
  const given = Object.fromEntries(Object.entries(options.limits ?? {}).filter(([, v]) => v !== undefined));
  const limits = { ...edgeDefaults, ...given } as typeof edgeDefaults;
  const idleTimeoutMs = options.limits?.idleTimeoutMs ?? limits.requestTimeoutMs + 5_000;
  if (limits.headersTimeoutMs > limits.requestTimeoutMs) {
    throw new RangeError('limits.headersTimeoutMs must not exceed limits.requestTimeoutMs');
  }
  const errorBody =
    options.errorBody ?? ((r: EdgeRejection) => ({ error: r.reason, ...(r.detail ? { message: r.detail } : {}) }));
  const trusted = options.trustedProxies?.length ? addressList(options.trustedProxies, 'trusted proxies') : null;

  const app = Fastify({
    logger: false,
    bodyLimit: limits.maxBodyBytes,
    return503OnClosing: true,
    // close() lets requests in flight finish and closes idle keep-alive sockets.
    forceCloseConnections: 'idle',
    routerOptions: { ignoreTrailingSlash: true },
    ...(trusted ? { trustProxy: (address: string) => trusted.has(address) } : { trustProxy: false }),
    serverFactory: (handler: RequestListener) => {
      const serverOptions = {
        headersTimeout: limits.headersTimeoutMs,
        requestTimeout: limits.requestTimeoutMs,
        keepAliveTimeout: limits.keepAliveTimeoutMs,
        maxHeaderSize: limits.maxHeaderBytes,
        // How often Node checks the two timeouts above.
        connectionsCheckingInterval: Math.max(25, Math.min(1_000, Math.floor(limits.headersTimeoutMs / 4))),
      };
      const server = options.tls
        ? createHttpsServer({ ...options.tls, ...serverOptions }, handler)
        : createServer(serverOptions, handler);
      server.maxConnections = limits.maxConnections;
      // A socket with no traffic at all (half-open, a stalled client) is destroyed.
      server.setTimeout(idleTimeoutMs, (socket) => socket.destroy());
      return server;
    },
    clientErrorHandler(err: NodeJS.ErrnoException, socket: Socket) {
      if (err.code === 'ECONNRESET' || socket.destroyed) return;
      const [status, text, reason, detail] = (err.code !== undefined ? clientErrors[err.code] : undefined) ?? [
        400,
        'Bad Request',
        'malformed_request',
        'the request is not valid HTTP/1.1',
      ];
      options.onRejected(new EdgeRejection(status, reason, detail), undefined, err);
      if (socket.writable && !responding(socket)) {
        const body = JSON.stringify(errorBody(new EdgeRejection(status, reason, detail)));
        socket.end(
          `HTTP/1.1 ${status} ${text}\r\nconnection: close\r\ncontent-type: application/json; charset=utf-8\r\n` +
            `content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
        );
      }
      socket.destroy();
    },
    frameworkErrors(err, request, reply) {
      void sendRejection(asRejection(err), request, reply, err);
    },
  });

  // Bodies are read as bytes (signatures are over the exact bytes); each route parses what it accepts.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));

  function sendRejection(rejection: EdgeRejection, request: FastifyRequest, reply: FastifyReply, error?: unknown) {
    // The socket is gone (a timeout already answered and counted it, or the client left): nobody to answer,
    // and counting it again would count one request twice.
    if (request.raw.socket.destroyed) return reply.hijack();
    options.onRejected(rejection, request, error);
    const headers: Record<string, string> = { ...options.errorHeaders?.(request), ...rejection.headers };
    // Past a body we did not read, the connection cannot carry another request.
    if (rejection.status === 413 || rejection.status === 408) headers.connection = 'close';
    return reply.code(rejection.status).headers(headers).send(errorBody(rejection));
  }

  app.setErrorHandler((err, request, reply) => sendRejection(asRejection(err), request, reply, err));
  app.setNotFoundHandler((request, reply) =>
    sendRejection(
      new EdgeRejection(404, 'not_found', `no route ${request.method} ${routePath(request)}`),
      request,
      reply,
    ),
  );
  if (options.tls) tlsApps.add(app);
  return app;
}

const tlsApps = new WeakSet<FastifyInstance>();

/** The path of a request, for messages: no query (it may carry anything), capped. */
function routePath(request: FastifyRequest): string {
  const path = request.url.split('?')[0] ?? '';
  return path.length > 100 ? `${path.slice(0, 100)}...` : path;
}

/** Listens and resolves `http(s)://host:port`. */
export async function listenEdge(app: FastifyInstance, host: string, port: number): Promise<string> {
  await app.listen({ host, port, listenTextResolver: () => '' });
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('server has no TCP address');
  const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `${tlsApps.has(app) ? 'https' : 'http'}://${shown}:${address.port}`;
}

/** The request's raw IncomingMessage socket peer (before any proxy header): for logs. */
export function peerAddress(request: FastifyRequest | IncomingMessage): string {
  const socket = 'raw' in request ? request.raw.socket : request.socket;
  return normalizeIp(socket.remoteAddress);
}

/**
 * `JSON.parse` without `__proto__` keys: JSON.parse makes them own properties, but any later copy by
 * assignment (`target[key] = value`) would set a prototype instead, and a schema would then read fields
 * inherited from it. Every other key, `constructor` included, stays a plain own property.
 */
export function parseJsonSafely(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text, (key, value: unknown) => (key === '__proto__' ? undefined : value)) };
  } catch {
    return { ok: false };
  }
}

/** `127.0.0.1`, `::1`, `localhost` (and the rest of 127/8): reachable from this machine only. */
export function isLoopbackHost(host: string): boolean {
  const h = normalizeIp(host.replace(/^\[|\]$/g, ''));
  return h === 'localhost' || h === '::1' || (isIP(h) === 4 && h.startsWith('127.'));
}
