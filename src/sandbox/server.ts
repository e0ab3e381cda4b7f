import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { createEdgeServer, listenEdge } from '../http/edge-server';
import { adminRoutes } from './admin';
import { defaultConfig } from './config';
import type { Provider, Route, SandboxContext } from './context';
import { crmProvider } from './crm';
import { inventoryProvider } from './inventory';
import { documentsProvider } from './documents';
import { emailProvider } from './email';
import { FaultRules, parseFaultSpec, runWithFault, type Fault } from './faults';
import { errorReply, header, isLoopback, writeReply, type Reply, type SandboxRequest } from './http';
import { IdempotencyStore } from './idempotency';
import { Ledger } from './ledger';
import { paymentsProvider } from './payments';
import { Router } from './router';
import { Stats } from './stats';
import { statusPages } from './status-pages';
import { ReceivedTraces } from './traces';
import type { Sandbox, SandboxOptions } from './types';
import { WebhookSender } from './webhooks';

export type { LedgerEntry, ProviderName, Sandbox, SandboxCredentials, SandboxOptions, SandboxTls } from './types';

const maxBodyBytes = 1024 * 1024;
const faultHeader = 'x-sandbox-fault';

type FaultChoice = { ok: true; fault: Fault | null } | { ok: false; reply: Reply };

/**
 * The sandbox's limits: generous (its faults hold answers back on purpose, e.g. commit-then-hang, for the
 * client to give up), but every one set, so a stuck client cannot hold the process forever.
 */
const sandboxLimits = {
  maxBodyBytes,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 60_000,
  idleTimeoutMs: 120_000,
  keepAliveTimeoutMs: 5_000,
  maxConnections: 4_096,
};

async function closeServer(app: FastifyInstance): Promise<void> {
  // Hung (commit-then-hang) and keep-alive sockets would otherwise hold close() open.
  app.server.closeAllConnections();
  await app.close();
}

function validatedWebhookTarget(target: string | undefined): string | null {
  if (target === undefined || target === '') return null;
  const url = new URL(target);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError('webhookTarget must be http(s)');
  return url.toString();
}

/** Starts the provider sandbox; resolves once it is listening. */
export async function startSandbox(options: SandboxOptions): Promise<Sandbox> {
  const host = options.host ?? '127.0.0.1';
  const now = options.now ?? Date.now;
  const initialTarget = validatedWebhookTarget(options.webhookTarget);
  let lifecycle = new AbortController();
  let url = '';

  const ctx: SandboxContext = {
    credentials: { ...options.credentials },
    now,
    config: defaultConfig(initialTarget),
    ledger: new Ledger(now),
    stats: new Stats(),
    traces: new ReceivedTraces(now),
    idempotency: new IdempotencyStore(),
    signal: () => lifecycle.signal,
    baseUrl: () => url,
  };
  const faults = new FaultRules();
  const webhooks = new WebhookSender(ctx);
  const providers: Provider[] = [
    paymentsProvider(ctx),
    documentsProvider(ctx, webhooks),
    emailProvider(ctx),
    crmProvider(ctx),
    inventoryProvider(ctx),
  ];
  const email = providers.find((p) => p.name === 'email');
  const pages = statusPages(ctx);

  const admin = adminRoutes({
    ctx,
    faults,
    webhooks,
    clearLedger() {
      ctx.ledger.clear();
      ctx.idempotency.clear();
      for (const provider of providers) provider.clearRecords();
    },
    forgetKeys() {
      const forgotten = ctx.idempotency.size;
      ctx.idempotency.clear();
      return forgotten;
    },
    resetAll() {
      // Aborting stops queued jobs, pending webhook deliveries and injected delays of the old generation.
      lifecycle.abort();
      lifecycle = new AbortController();
      Object.assign(ctx.config, defaultConfig(initialTarget));
      ctx.ledger.clear();
      ctx.idempotency.clear();
      ctx.stats.reset();
      ctx.traces.clear();
      faults.clear();
      webhooks.reset();
      for (const provider of providers) provider.reset();
      pages.reset();
    },
    configChanged(patch) {
      if (patch.emailRateLimit !== undefined) email?.reset();
    },
  });

  const providerRoutes = new Set<Route>([...providers.flatMap((p) => p.routes), ...pages.routes]);
  const router = new Router([...providerRoutes, ...admin, ...pages.adminRoutes]);

  /** A request header names its own fault; otherwise an admin rule may apply. Faults never touch admin routes. */
  function chooseFault(req: SandboxRequest): FaultChoice {
    const spec = header(req, faultHeader);
    if (spec !== undefined && spec.trim() !== '') {
      const parsed = parseFaultSpec(spec, now());
      return parsed.ok ? parsed : { ok: false, reply: errorReply(400, 'invalid_fault', { message: parsed.error }) };
    }
    return { ok: true, fault: faults.take(req.method, req.path) };
  }

  async function handle(req: IncomingMessage, res: ServerResponse, rawBody: Buffer): Promise<void> {
    res.on('finish', () => ctx.stats.response(res.statusCode));
    let parsedUrl: URL;
    try {
      parsedUrl = new URL(req.url ?? '/', 'http://sandbox.invalid');
    } catch {
      return writeReply(res, errorReply(400, 'bad_url'));
    }
    const method = (req.method ?? 'GET').toUpperCase();
    const match = router.match(method, parsedUrl.pathname);
    if (match.kind === 'not-found') return writeReply(res, errorReply(404, 'not_found'));
    if (match.kind === 'method-not-allowed') {
      return writeReply(res, errorReply(405, 'method_not_allowed', {}, { allow: match.allow.join(', ') }));
    }
    const isProvider = providerRoutes.has(match.route);
    if (!isProvider && !isLoopback(req.socket.remoteAddress)) return writeReply(res, errorReply(403, 'forbidden'));
    if (isProvider) {
      ctx.stats.request(`${method} ${match.route.pattern}`);
      ctx.traces.record(`${method} ${match.route.pattern}`, req.headers.traceparent);
    }

    const request: SandboxRequest = {
      method,
      path: parsedUrl.pathname,
      query: parsedUrl.searchParams,
      headers: req.headers,
      params: match.params,
      rawBody,
    };
    const run = async (): Promise<Reply> => match.route.handle(request);
    if (!isProvider) return writeReply(res, await run());

    const choice = chooseFault(request);
    if (!choice.ok) return writeReply(res, choice.reply);
    if (choice.fault) ctx.stats.fault(choice.fault.kind);
    await runWithFault(choice.fault, run, { res, signal: lifecycle.signal, baseUrl: url });
  }

  /**
   * One Fastify edge per port (plain, and mTLS when configured): it reads and caps the body (413) and
   * enforces the timeouts; the sandbox's own router and faults then write to the raw response, since
   * faults must be able to hang, reset or stream it.
   */
  function edge(tls?: SandboxOptions['tls']): FastifyInstance {
    const app = createEdgeServer({
      limits: sandboxLimits,
      ...(tls
        ? { tls: { ca: tls.ca, cert: tls.cert, key: tls.key, requestCert: true, rejectUnauthorized: true } }
        : {}),
      // A dev-only process: refusals are answered (with their reason), not counted.
      onRejected: () => undefined,
    });
    app.route({
      method: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'],
      url: '*',
      handler: (request, reply) => {
        reply.hijack();
        const rawBody = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
        handle(request.raw, reply.raw, rawBody).catch(() => {
          // A handler bug must still produce an answer, never a hung socket.
          if (!reply.raw.headersSent) writeReply(reply.raw, errorReply(500, 'internal_error'));
          else reply.raw.destroy();
        });
      },
    });
    return app;
  }

  // The same routes behind mutual TLS: the handshake fails unless the client presents a certificate signed by `ca`.
  const server = edge();
  const servers = [server];
  url = await listenEdge(server, host, options.port ?? 0);
  let mtlsUrl: string | undefined;
  if (options.tls) {
    const mtlsServer = edge(options.tls);
    try {
      mtlsUrl = await listenEdge(mtlsServer, host, options.tls.port ?? 0);
      servers.push(mtlsServer);
    } catch (err) {
      await server.close();
      throw err;
    }
  }

  let closing: Promise<void> | null = null;
  return {
    url,
    ...(mtlsUrl ? { mtlsUrl } : {}),
    ledger: () => ctx.ledger.list(),
    close() {
      if (!closing) {
        lifecycle.abort();
        closing = Promise.all(servers.map(closeServer)).then(() => undefined);
      }
      return closing;
    },
  };
}
