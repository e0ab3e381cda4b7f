import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ValueError, type Payload, type PayloadCodec } from '@temporalio/common';
import type { Logger } from '../observability/logger';

/**
 * Temporal's remote codec protocol, for the Web UI and the CLI (`--codec-endpoint`):
 * `POST [/<namespace>]/decode` and `/encode` with `{ "payloads": [...] }`, each payload in proto JSON
 * (`metadata` values and `data` base64), answered in the same shape. The UI calls it from the browser,
 * so it answers CORS (preflight included, with the `x-namespace` header the UI sends) for the UI's
 * origins only. It decrypts for whoever can reach it: keep it on loopback or behind authentication.
 */
export interface CodecServerOptions {
  codec: PayloadCodec;
  /** @default 127.0.0.1 */
  host?: string;
  /** 0 picks a free port. @default 0 */
  port?: number;
  /** Browser origins allowed to call it (the Web UI's), exact `scheme://host:port`. @default none */
  corsOrigins?: readonly string[];
  /** Larger requests get 413. @default 4 MiB */
  maxBodyBytes?: number;
  logger?: Logger;
}

export interface CodecServer {
  /** `http://host:port`: what `--ui-codec-endpoint` and `--codec-endpoint` take. */
  url: string;
  close(): Promise<void>;
}

interface JsonPayload {
  metadata?: Record<string, string>;
  data?: string;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message?: string,
  ) {
    super(message ?? reason);
  }
}

const route = /^(?:\/[^/]+)?\/(encode|decode)$/;
// Proto JSON accepts both base64 alphabets, padded or not.
const base64 = /^[A-Za-z0-9+/_-]*={0,2}$/;
const allowedHeaders = 'content-type, x-namespace';

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

function fromJson(value: unknown, index: number): Payload {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new HttpError(400, 'invalid_payload', `payloads[${index}] is not an object`);
  }
  const { metadata, data } = value as { metadata?: unknown; data?: unknown };
  const decoded: Record<string, Uint8Array> = {};
  if (metadata !== undefined && metadata !== null) {
    if (typeof metadata !== 'object' || Array.isArray(metadata)) {
      throw new HttpError(400, 'invalid_payload', `payloads[${index}].metadata is not an object`);
    }
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string' || !base64.test(v)) {
        throw new HttpError(400, 'invalid_payload', `payloads[${index}].metadata.${k} is not base64`);
      }
      decoded[k] = Buffer.from(v, 'base64');
    }
  }
  if (data !== undefined && data !== null && (typeof data !== 'string' || !base64.test(data))) {
    throw new HttpError(400, 'invalid_payload', `payloads[${index}].data is not base64`);
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

function readCapped(req: IncomingMessage, max: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    req.on('data', (chunk: Buffer) => {
      if (done) return;
      size += chunk.length;
      if (size > max) {
        done = true;
        req.pause();
        reject(new HttpError(413, 'payload_too_large', `request body over ${max} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    req.once('end', () => {
      if (done) return;
      done = true;
      resolve(Buffer.concat(chunks));
    });
    req.once('error', (err) => {
      if (done) return;
      done = true;
      reject(err);
    });
  });
}

export async function startCodecServer(options: CodecServerOptions): Promise<CodecServer> {
  const { codec, logger } = options;
  const origins = new Set(options.corsOrigins ?? []);
  const maxBodyBytes = options.maxBodyBytes ?? 4 * 1024 * 1024;

  function corsHeaders(origin: string | undefined): Record<string, string> {
    return origin !== undefined && origins.has(origin) ? { 'access-control-allow-origin': origin } : {};
  }

  function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    const payload = body === undefined ? Buffer.alloc(0) : Buffer.from(JSON.stringify(body), 'utf8');
    res.writeHead(status, {
      // Decrypted data: no cache anywhere. Vary: the CORS answer depends on the origin.
      'cache-control': 'no-store',
      vary: 'Origin',
      ...(payload.length ? { 'content-type': 'application/json; charset=utf-8' } : {}),
      'content-length': String(payload.length),
      ...headers,
    });
    res.end(payload);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { pathname } = new URL(req.url ?? '/', 'http://codec.invalid');
    const origin = req.headers.origin;
    const cors = corsHeaders(origin);
    if (pathname === '/healthz' && req.method === 'GET') return send(res, 200, { ok: true });
    const operation = route.exec(pathname)?.[1] as 'encode' | 'decode' | undefined;
    if (!operation) throw new HttpError(404, 'not_found');

    if (req.method === 'OPTIONS') {
      // CORS preflight: granted to the configured origins only (no allow-origin header otherwise).
      if (!cors['access-control-allow-origin']) throw new HttpError(403, 'origin_not_allowed');
      const privateNetwork = req.headers['access-control-request-private-network'] === 'true';
      return send(res, 204, undefined, {
        ...cors,
        'access-control-allow-methods': 'POST, OPTIONS',
        'access-control-allow-headers': allowedHeaders,
        'access-control-max-age': '600',
        ...(privateNetwork ? { 'access-control-allow-private-network': 'true' } : {}),
      });
    }
    if (req.method !== 'POST') throw new HttpError(405, 'method_not_allowed');
    // A browser page from any other origin is refused outright (the CLI sends no Origin).
    if (origin !== undefined && !cors['access-control-allow-origin']) throw new HttpError(403, 'origin_not_allowed');
    const type = req.headers['content-type'] ?? '';
    if (!/^application\/json\b/i.test(type)) throw new HttpError(415, 'unsupported_media_type');
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > maxBodyBytes) {
      throw new HttpError(413, 'payload_too_large', `request body over ${maxBodyBytes} bytes`);
    }

    const raw = await readCapped(req, maxBodyBytes);
    let body: unknown;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch {
      throw new HttpError(400, 'malformed_json');
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new HttpError(400, 'invalid_body', 'expected { "payloads": [...] }');
    }
    // Proto3 JSON omits an empty repeated field: the CLI sends `{}` for no payloads.
    const list = (body as { payloads?: unknown }).payloads ?? [];
    if (!Array.isArray(list)) throw new HttpError(400, 'invalid_body', 'expected { "payloads": [...] }');
    const input = list.map(fromJson);
    let output: Payload[];
    try {
      output = operation === 'decode' ? await codec.decode(input) : await codec.encode(input);
    } catch (err) {
      if (err instanceof ValueError) throw new HttpError(400, `${operation}_failed`, err.message);
      throw err;
    }
    logger?.debug(
      { event: `codec.${operation}`, payloads: input.length, namespace: req.headers['x-namespace'] },
      `${operation}d ${input.length} payloads`,
    );
    send(res, 200, { payloads: output.map(toJson) }, cors);
  }

  const server = createServer(
    { headersTimeout: 5_000, requestTimeout: 30_000, keepAliveTimeout: 5_000 },
    (req, res) => {
      handle(req, res).catch((err: unknown) => {
        const known = err instanceof HttpError ? err : undefined;
        const status = known?.status ?? 500;
        // Reason and key ids only: never payload contents or key material.
        const fields = { event: 'codec.rejected', status, reason: known?.reason ?? 'internal_error', path: req.url };
        if (status >= 500) logger?.error({ ...fields, error: (err as Error).message }, 'codec request failed');
        else logger?.warn({ ...fields, error: known?.message }, `codec request rejected: ${fields.reason}`);
        if (res.headersSent) return void res.destroy();
        const headers: Record<string, string> = { ...corsHeaders(req.headers.origin) };
        if (status === 413) headers.connection = 'close';
        if (status === 405) headers.allow = 'POST, OPTIONS';
        send(
          res,
          status,
          { error: known?.reason ?? 'internal_error', message: known?.message ?? 'internal error' },
          headers,
        );
      });
    },
  );

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}
