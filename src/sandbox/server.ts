import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { adminRoutes } from './admin';
import { defaultConfig } from './config';
import type { Provider, Route, SandboxContext } from './context';
import { crmProvider } from './crm';
import { documentsProvider } from './documents';
import { emailProvider } from './email';
import { FaultRules, parseFaultSpec, runWithFault, type Fault } from './faults';
import { errorReply, header, isLoopback, readBody, writeReply, type Reply, type SandboxRequest } from './http';
import { IdempotencyStore } from './idempotency';
import { Ledger } from './ledger';
import { paymentsProvider } from './payments';
import { Router } from './router';
import { Stats } from './stats';
import type { Sandbox, SandboxOptions } from './types';
import { WebhookSender } from './webhooks';

export type { LedgerEntry, ProviderName, Sandbox, SandboxCredentials, SandboxOptions, SandboxTls } from './types';

const maxBodyBytes = 1024 * 1024;
const faultHeader = 'x-sandbox-fault';

type FaultChoice = { ok: true; fault: Fault | null } | { ok: false; reply: Reply };

function formatUrl(protocol: 'http' | 'https', host: string, port: number): string {
  return `${protocol}://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

async function listen(server: Server, port: number, host: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}

function closeServer(server: Server): Promise<void> {
  return new Promise<void>((resolve) => {
    server.close(() => resolve());
    // Hung (commit-then-hang) and keep-alive sockets would otherwise hold close() open forever.
    server.closeAllConnections();
  });
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
  ];
  const email = providers.find((p) => p.name === 'email');

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
      faults.clear();
      webhooks.reset();
      for (const provider of providers) provider.reset();
    },
    configChanged(patch) {
      if (patch.emailRateLimit !== undefined) email?.reset();
    },
  });

  const providerRoutes = new Set<Route>(providers.flatMap((p) => p.routes));
  const router = new Router([...providerRoutes, ...admin]);

  /** A request header names its own fault; otherwise an admin rule may apply. Faults never touch admin routes. */
  function chooseFault(req: SandboxRequest): FaultChoice {
    const spec = header(req, faultHeader);
    if (spec !== undefined && spec.trim() !== '') {
      const parsed = parseFaultSpec(spec, now());
      return parsed.ok ? parsed : { ok: false, reply: errorReply(400, 'invalid_fault', { message: parsed.error }) };
    }
    return { ok: true, fault: faults.take(req.method, req.path) };
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    res.on('finish', () => ctx.stats.response(res.statusCode));
    const parsedUrl = new URL(req.url ?? '/', 'http://sandbox.invalid');
    const method = (req.method ?? 'GET').toUpperCase();
    const match = router.match(method, parsedUrl.pathname);
    if (match.kind === 'not-found') return writeReply(res, errorReply(404, 'not_found'));
    if (match.kind === 'method-not-allowed') {
      return writeReply(res, errorReply(405, 'method_not_allowed', {}, { allow: match.allow.join(', ') }));
    }
    const isProvider = providerRoutes.has(match.route);
    if (!isProvider && !isLoopback(req.socket.remoteAddress)) return writeReply(res, errorReply(403, 'forbidden'));
    if (isProvider) ctx.stats.request(`${method} ${match.route.pattern}`);

    const rawBody = await readBody(req, maxBodyBytes);
    if (rawBody === null) return writeReply(res, errorReply(413, 'payload_too_large'));
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

  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    handle(req, res).catch(() => {
      // A handler bug must still produce an answer, never a hung socket.
      if (!res.headersSent) writeReply(res, errorReply(500, 'internal_error'));
      else res.destroy();
    });
  };
  const server = createServer(onRequest);
  // The same routes behind mutual TLS: the handshake fails unless the client presents a certificate signed by `ca`.
  const mtlsServer = options.tls
    ? createHttpsServer(
        {
          ca: options.tls.ca,
          cert: options.tls.cert,
          key: options.tls.key,
          requestCert: true,
          rejectUnauthorized: true,
        },
        onRequest,
      )
    : undefined;
  const servers = mtlsServer ? [server, mtlsServer] : [server];
  for (const s of servers) s.on('clientError', (_err, socket) => socket.destroy());

  url = formatUrl('http', host, await listen(server, options.port ?? 0, host));
  let mtlsUrl: string | undefined;
  if (mtlsServer) {
    try {
      mtlsUrl = formatUrl('https', host, await listen(mtlsServer, options.tls?.port ?? 0, host));
    } catch (err) {
      server.close();
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
