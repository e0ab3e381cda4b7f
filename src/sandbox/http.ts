import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import type { z } from 'zod';

export const JSON_CONTENT_TYPE = 'application/json; charset=utf-8';

/** A fully read request, as handlers see it. */
export interface SandboxRequest {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: IncomingHttpHeaders;
  readonly params: Readonly<Record<string, string>>;
  readonly rawBody: Buffer;
}

/** What a handler answers; handlers never touch the socket so faults can rewrite or drop the answer. */
export interface Reply {
  readonly status: number;
  /** Serialised as JSON unless `raw` is set. */
  readonly body?: unknown;
  readonly raw?: { readonly contentType: string; readonly data: string | Buffer };
  readonly headers?: Readonly<Record<string, string>>;
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; reply: Reply };

export function json(status: number, body: unknown, headers?: Record<string, string>): Reply {
  return headers ? { status, body, headers } : { status, body };
}

export function errorReply(
  status: number,
  error: string,
  extra?: Record<string, unknown>,
  headers?: Record<string, string>,
): Reply {
  return json(status, { error, ...extra }, headers);
}

export function header(req: SandboxRequest, name: string): string | undefined {
  const value = req.headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

/** Parses the raw body as JSON; an empty body is `{}` so "no body" fails validation, not parsing. */
export function parseJson(req: SandboxRequest): Parsed<unknown> {
  if (req.rawBody.length === 0) return { ok: true, value: {} };
  try {
    return { ok: true, value: JSON.parse(req.rawBody.toString('utf8')) as unknown };
  } catch {
    return { ok: false, reply: errorReply(400, 'invalid_json') };
  }
}

export function validate<S extends z.ZodType>(schema: S, value: unknown): Parsed<z.output<S>> {
  const result = schema.safeParse(value);
  if (result.success) return { ok: true, value: result.data };
  const details = result.error.issues.map((issue) => ({
    path: issue.path.map(String).join('.'),
    message: issue.message,
  }));
  return { ok: false, reply: errorReply(422, 'validation_error', { details }) };
}

export function parseBody<S extends z.ZodType>(req: SandboxRequest, schema: S): Parsed<z.output<S>> {
  const parsed = parseJson(req);
  return parsed.ok ? validate(schema, parsed.value) : parsed;
}

/** Constant-time comparison; hashing first hides the expected secret's length too. */
export function safeEqual(actual: string, expected: string): boolean {
  const a = createHash('sha256').update(actual).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

export function randomId(prefix: string): string {
  return `${prefix}_${randomBytes(12).toString('hex')}`;
}

export function writeReply(res: ServerResponse, reply: Reply): void {
  if (res.destroyed || res.writableEnded) return;
  const data = reply.raw ? reply.raw.data : reply.body === undefined ? '' : JSON.stringify(reply.body);
  const payload = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  res.writeHead(reply.status, {
    'content-type': reply.raw ? reply.raw.contentType : JSON_CONTENT_TYPE,
    'content-length': String(payload.length),
    ...reply.headers,
  });
  res.end(payload);
}

/** Resolves true after `ms`, or false as soon as `signal` aborts (so close/reset never waits on timers). */
export function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  if (ms <= 0) return Promise.resolve(true);
  return new Promise((resolve) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** Waits until the response can take more data, or is gone. */
export function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.once('drain', done);
    res.once('close', done);
  });
}

export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.');
}
