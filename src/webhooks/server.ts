import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Logger } from '../observability/logger';
import { WORKFLOWS_TASK_QUEUE } from '../contracts/task-queues';
import type { WebhookEventInput } from '../workflows/process-webhook-event.workflow';
import type { WebhookProviderDefinition } from './providers';
import type { SecretList } from './secrets';
import { ReceiverStats, type ReceiverStatsSnapshot } from './stats';
import { TemporalStarter, type TemporalStarterOptions } from './temporal-starter';
import { checkTimestamp, StandardWebhooksVerifier, verifyHexHmac } from './verify';

export interface ReceiverProvider {
  definition: WebhookProviderDefinition;
  /** Every secret currently valid for this provider (several during a rotation). Secret: never logged. */
  secrets: SecretList | readonly string[];
}

export interface ReceiverLimits {
  /** Larger bodies get 413, chunked ones included: reading stops at the cap. @default 65536 bytes */
  maxBodyBytes?: number;
  /** Time a client has to send its request headers. @default 5000 ms */
  headersTimeoutMs?: number;
  /** Time a client has to send its whole request (slow bodies are cut off with 408). @default 10000 ms */
  requestTimeoutMs?: number;
  /** Accepted clock skew of `webhook-timestamp`, both directions. @default 300 seconds */
  toleranceSeconds?: number;
}

export interface ReceiverOptions {
  /** 0 picks a free port. @default 0 */
  port?: number;
  /** @default 127.0.0.1 */
  host?: string;
  providers: ReceiverProvider[];
  temporal: {
    /** host:port; the receiver starts (and answers 503) even when nothing listens there yet. */
    address: string;
    /** @default default */
    namespace?: string;
    /** Queue of the workers that run `processWebhookEvent`. @default WORKFLOWS_TASK_QUEUE */
    taskQueue?: string;
    /** Budget for one workflow start, connecting included. @default 3000 ms */
    startTimeoutMs?: number;
    /** Payload codecs (encryption), the same as the workers'. @default none (plain payloads) */
    dataConverter?: TemporalStarterOptions['dataConverter'];
  };
  limits?: ReceiverLimits;
  /** `Retry-After` of a 503. @default 5 seconds */
  retryAfterSeconds?: number;
  /** Passed to `processWebhookEvent`: how long it waits for a workflow to signal. @default its own (5 x 2 s) */
  waiter?: WebhookEventInput['waiter'];
  logger: Logger;
  /** Clock for the timestamp window (tests). The library re-checks with the real clock. @default Date.now */
  now?: () => number;
  /**
   * Benchmark baseline only: answer 200 right after verification and validation, start nothing.
   * Loses events by design; never in production. @default false
   */
  verifyOnly?: boolean;
}

export interface Receiver {
  /** e.g. `http://127.0.0.1:54321` */
  url: string;
  stats(): ReceiverStatsSnapshot;
  close(): Promise<void>;
}

interface Reply {
  status: number;
  body: Record<string, unknown>;
  headers?: Record<string, string>;
}

/** A refusal: its reason is the log field, the counter and the error code of the response. */
class Rejection {
  constructor(
    readonly status: number,
    readonly reason: string,
    readonly headers: Record<string, string> = {},
    readonly detail?: string[],
  ) {}
}

const route = /^\/webhooks\/([^/]+)\/?$/;

function headerValue(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

/** `application/json`, optionally with `charset=utf-8`; anything else is 415. */
function isJson(contentType: string | undefined): boolean {
  if (contentType === undefined) return false;
  const [type, ...params] = contentType.split(';').map((p) => p.trim().toLowerCase());
  if (type !== 'application/json') return false;
  return params.every((p) => !p.startsWith('charset=') || p === 'charset=utf-8' || p === 'charset="utf-8"');
}

/**
 * Reads at most `limit` bytes; resolves `too-large` as soon as the body goes past it (nothing more is
 * kept) and `gone` when the client disconnected or was cut off by a timeout.
 */
function readCapped(req: IncomingMessage, limit: number): Promise<Buffer | 'too-large' | 'gone'> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) {
        chunks.push(chunk);
        return;
      }
      req.off('data', onData);
      chunks.length = 0;
      resolve('too-large');
    };
    req.on('data', onData);
    req.once('end', () => resolve(Buffer.concat(chunks, size)));
    req.once('error', () => resolve('gone'));
    // After 'end' this is a no-op; without it, a client that vanished without an error would hang here.
    req.once('close', () => resolve('gone'));
  });
}

// Exact bytes: no lossy replacement characters, and a BOM stays part of what was signed.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * The webhook receiver: verify on the raw bytes, validate, hand the event to Temporal, acknowledge.
 * A 2xx means Temporal durably accepted the workflow start (or already had it); anything else makes
 * the sender retry. No processing happens in the request.
 */
export async function startReceiver(options: ReceiverOptions): Promise<Receiver> {
  const { logger } = options;
  const now = options.now ?? Date.now;
  const maxBodyBytes = options.limits?.maxBodyBytes ?? 64 * 1024;
  const headersTimeout = options.limits?.headersTimeoutMs ?? 5_000;
  const requestTimeout = options.limits?.requestTimeoutMs ?? 10_000;
  const toleranceSeconds = options.limits?.toleranceSeconds ?? 300;
  const retryAfter = String(options.retryAfterSeconds ?? 5);
  if (headersTimeout > requestTimeout) {
    throw new RangeError('limits.headersTimeoutMs must not exceed limits.requestTimeoutMs');
  }

  const providers = new Map(
    options.providers.map((p) => {
      const secrets = typeof p.secrets === 'function' ? p.secrets : () => p.secrets as readonly string[];
      const standard = new StandardWebhooksVerifier(p.definition.name);
      // Fail at start-up, naming the provider, rather than on the first webhook.
      const initial = secrets();
      if (initial.length === 0) throw new Error(`no webhook secret configured for provider ${p.definition.name}`);
      standard.prepare(initial);
      return [p.definition.name, { definition: p.definition, secrets, standard }] as const;
    }),
  );
  const stats = new ReceiverStats();
  const starter = new TemporalStarter({
    address: options.temporal.address,
    namespace: options.temporal.namespace,
    taskQueue: options.temporal.taskQueue ?? WORKFLOWS_TASK_QUEUE,
    startTimeoutMs: options.temporal.startTimeoutMs,
    dataConverter: options.temporal.dataConverter,
  });

  function reject(provider: string | undefined, rejection: Rejection, context: Record<string, unknown> = {}): Reply {
    stats.reject(rejection.reason);
    const level = rejection.status >= 500 ? 'error' : 'warn';
    // Reason, status and IDs only: never headers, signatures, secrets or body contents.
    logger[level](
      { event: 'webhook.rejected', provider, reason: rejection.reason, status: rejection.status, ...context },
      `webhook rejected: ${rejection.reason}`,
    );
    return {
      status: rejection.status,
      body: { ok: false, error: rejection.reason, ...(rejection.detail ? { issues: rejection.detail } : {}) },
      headers: rejection.headers,
    };
  }

  async function receive(providerName: string, req: IncomingMessage): Promise<Reply | null> {
    const provider = providers.get(providerName);
    if (!provider) return reject(undefined, new Rejection(404, 'unknown_provider'));
    stats.count('received');
    if (req.method !== 'POST') return reject(providerName, new Rejection(405, 'method_not_allowed', { allow: 'POST' }));
    if (!isJson(headerValue(req, 'content-type'))) {
      return reject(providerName, new Rejection(415, 'unsupported_media_type'));
    }
    const declared = headerValue(req, 'content-length');
    if (declared !== undefined && Number(declared) > maxBodyBytes) {
      return reject(providerName, new Rejection(413, 'payload_too_large', { connection: 'close' }));
    }

    // Cheap header checks first: unsigned or stale requests are refused before their body is read.
    const timestamp = headerValue(req, 'webhook-timestamp');
    const fresh = checkTimestamp(timestamp, now(), toleranceSeconds);
    if (!fresh.ok) return reject(providerName, new Rejection(401, fresh.reason));
    const present = provider.definition.schemes.filter((s) =>
      s.kind === 'standard-webhooks'
        ? req.headers['webhook-signature'] !== undefined
        : req.headers[s.header] !== undefined,
    );
    if (present.length === 0) return reject(providerName, new Rejection(401, 'missing_signature'));

    const raw = await readCapped(req, maxBodyBytes);
    if (raw === 'too-large') {
      return reject(providerName, new Rejection(413, 'payload_too_large', { connection: 'close' }));
    }
    if (raw === 'gone') {
      // Nobody to answer; a timeout was already logged and counted by the clientError handler.
      logger.debug({ event: 'webhook.client_gone', provider: providerName }, 'client went away mid-body');
      return null;
    }
    let text: string;
    try {
      // Exact bytes matter: a lossy decode would let two different bodies share one signature.
      text = utf8.decode(raw);
    } catch {
      return reject(providerName, new Rejection(400, 'invalid_encoding'));
    }

    // Verify on the raw bytes, every present scheme, before any parsing.
    const secrets = provider.secrets();
    for (const scheme of present) {
      const verdict =
        scheme.kind === 'standard-webhooks'
          ? provider.standard.verify(
              text,
              {
                id: headerValue(req, 'webhook-id'),
                timestamp: timestamp ?? '',
                signature: headerValue(req, 'webhook-signature') ?? '',
              },
              secrets,
            )
          : verifyHexHmac(raw, headerValue(req, scheme.header) ?? '', secrets);
      if (!verdict.ok) return reject(providerName, new Rejection(401, verdict.reason));
    }

    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      return reject(providerName, new Rejection(400, 'malformed_json'));
    }
    const parsed = provider.definition.parse(json);
    if (!parsed.ok) return reject(providerName, new Rejection(400, 'invalid_event', {}, parsed.issues));
    const event: WebhookEventInput = { ...parsed.event, ...(options.waiter ? { waiter: options.waiter } : {}) };

    if (options.verifyOnly) {
      stats.count('verifiedOnly');
      return { status: 200, body: { ok: true, status: 'verified' } };
    }
    const outcome = await starter.start(event);
    const fields = { provider: providerName, eventId: event.eventId, type: event.type, workflowId: outcome.workflowId };
    switch (outcome.kind) {
      case 'started':
        stats.count('accepted');
        logger.info({ event: 'webhook.accepted', ...fields }, 'webhook accepted');
        return { status: 202, body: { ok: true, status: 'accepted' } };
      case 'duplicate':
        stats.count('duplicates');
        logger.info({ event: 'webhook.duplicate', ...fields }, 'webhook already accepted: nothing new started');
        return { status: 200, body: { ok: true, status: 'duplicate' } };
      case 'unavailable':
        return reject(providerName, new Rejection(503, 'temporal_unavailable', { 'retry-after': retryAfter }), {
          ...fields,
          error: outcome.error,
        });
      case 'failed':
        return reject(providerName, new Rejection(500, 'start_failed'), { ...fields, error: outcome.error });
    }
  }

  async function handle(req: IncomingMessage): Promise<Reply | null> {
    const { pathname } = new URL(req.url ?? '/', 'http://receiver.invalid');
    const match = route.exec(pathname);
    // Not URI-decoded: provider names are plain segments, and a bad %-escape must not throw.
    if (match?.[1] !== undefined) return receive(match[1], req);
    if (pathname === '/stats' || pathname === '/healthz') {
      if (req.method !== 'GET') return reject(undefined, new Rejection(405, 'method_not_allowed', { allow: 'GET' }));
      return { status: 200, body: pathname === '/stats' ? { ...stats.snapshot() } : { ok: true } };
    }
    return reject(undefined, new Rejection(404, 'not_found'));
  }

  // Sockets whose response has started: a timeout there must not write a second status line.
  const responding = new WeakSet<Socket>();

  function write(res: ServerResponse, reply: Reply): void {
    const socket = res.socket;
    if (res.destroyed || res.writableEnded || !socket?.writable) return;
    responding.add(socket);
    res.once('finish', () => responding.delete(socket));
    const payload = Buffer.from(JSON.stringify(reply.body), 'utf8');
    res.writeHead(reply.status, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': String(payload.length),
      ...reply.headers,
    });
    res.end(payload);
  }

  const server = createServer(
    {
      headersTimeout,
      requestTimeout,
      // How often Node checks those two timeouts (its default, 30 s, would make them meaningless).
      connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(headersTimeout / 2))),
      keepAliveTimeout: 5_000,
    },
    (req, res) => {
      handle(req).then(
        (reply) => (reply ? write(res, reply) : res.destroy()),
        (err: unknown) => {
          // A bug or a client that went away mid-body: answer if still possible, never hang the socket.
          logger.error({ event: 'webhook.error', error: (err as Error).message }, 'webhook handler failed');
          if (!res.headersSent) write(res, { status: 500, body: { ok: false, error: 'internal_error' } });
          if (!res.writableEnded) res.destroy();
        },
      );
    },
  );
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    if (err.code === 'ECONNRESET' || !socket.writable || responding.has(socket)) {
      socket.destroy();
      return;
    }
    const [status, text, reason] =
      err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'Request Timeout', 'request_timeout']
        : err.code === 'HPE_HEADER_OVERFLOW'
          ? [431, 'Request Header Fields Too Large', 'headers_too_large']
          : [400, 'Bad Request', 'bad_request'];
    reject(undefined, new Rejection(status, reason));
    socket.end(`HTTP/1.1 ${status} ${text}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
  });

  await new Promise<void>((resolve, rejectListen) => {
    server.once('error', rejectListen);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', rejectListen);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.address.includes(':') ? `[${address.address}]` : address.address;
  const url = `http://${host}:${address.port}`;

  let closing: Promise<void> | null = null;
  return {
    url,
    stats: () => stats.snapshot(),
    close() {
      closing ??= (async () => {
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeIdleConnections();
        });
        await starter.close();
      })();
      return closing;
    },
  };
}
