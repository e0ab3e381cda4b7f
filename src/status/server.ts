import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import type { OperatorDecision } from '../contracts/messages';
import type { Logger } from '../observability/logger';
import { renderNotice, renderStatusPage } from './page';
import { parkedQuery, type StatusReport } from './status';

/** Starts a durable bulk resolution of every workflow a visibility query matches (wired by the integrator). */
export type BulkResolve = (request: {
  query: string;
  decision: OperatorDecision;
  reason: string;
  requestedBy: string;
}) => Promise<{ workflowId: string }>;

export interface StatusServerOptions {
  /** @default 127.0.0.1 */
  host?: string;
  /** 0 picks a free port. @default 0 */
  port?: number;
  /** The live status (src/status/status.ts `collectStatus`); it never throws. */
  status: () => Promise<StatusReport>;
  logger: Logger;
  /** @default 15 */
  refreshSeconds?: number;
  /** Shows the "resolve all parked" form and serves its route. */
  bulkResolve?: BulkResolve;
  /**
   * Required from action routes (form field `token` or `Authorization: Bearer`) when bound beyond loopback;
   * the server refuses to start there without one when an action route exists.
   */
  token?: string;
  /** The Temporal UI's workflow page for an ID, for the answer to a bulk resolution. */
  workflowUrl?: (workflowId: string) => string;
}

export interface StatusServer {
  url: string;
  close(): Promise<void>;
}

const loopbackHosts = new Set(['127.0.0.1', '::1', 'localhost']);

/**
 * The status page's HTTP server (`npm run status`): `GET /` (HTML), `GET /api/status` (JSON), and with a
 * bulk-resolve function `POST /integrations/:name/resolve-parked`. Fastify, like every server of the
 * project. An action is refused from any other origin (a page elsewhere cannot make an operator's browser
 * post it) and, beyond loopback, without the token.
 */
export async function startStatusServer(options: StatusServerOptions): Promise<StatusServer> {
  const host = options.host ?? '127.0.0.1';
  const loopback = loopbackHosts.has(host) || host.startsWith('127.');
  const tokenRequired = !loopback;
  if (tokenRequired && options.bulkResolve && !options.token)
    throw new Error(
      `the status page would serve its resolve action on ${host} without a token: set STATUS_TOKEN (or STATUS_TOKEN_FILE), or bind STATUS_HOST to 127.0.0.1`,
    );
  const refreshSeconds = options.refreshSeconds ?? 15;
  const app = Fastify({ logger: false, connectionTimeout: 10_000, requestTimeout: 15_000, bodyLimit: 4_096 });
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(String(body))));
  });
  app.addHook('onSend', async (_request, reply) => {
    void reply.header(
      'content-security-policy',
      "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    );
    void reply.header('x-content-type-options', 'nosniff');
    void reply.header('referrer-policy', 'same-origin');
  });

  app.get('/', async (_request, reply) => {
    const report = await options.status();
    return reply
      .type('text/html; charset=utf-8')
      .header('cache-control', 'no-store')
      .send(renderStatusPage(report, { refreshSeconds, bulkResolve: Boolean(options.bulkResolve), tokenRequired }));
  });
  app.get('/api/status', async (_request, reply) =>
    reply.header('cache-control', 'no-store').send(await options.status()),
  );
  app.get('/livez', () => ({ status: 'ok', process: 'status' }));

  let url = '';
  if (options.bulkResolve) {
    const bulkResolve = options.bulkResolve;
    app.post<{ Params: { name: string }; Body: Record<string, string> | undefined }>(
      '/integrations/:name/resolve-parked',
      async (request, reply) => {
        const refused = refuse(request, url, tokenRequired ? options.token : undefined);
        if (refused) return html(reply, 403, 'Refused', refused);
        const report = await options.status();
        const name = request.params.name;
        if (!report.integrations.some((i) => i.name === name))
          return html(reply, 404, 'No such integration', `no integration named "${name}" on this page`);
        const body = request.body ?? {};
        const decided = decisionOf(body);
        if ('error' in decided) return html(reply, 400, 'Not started', decided.error);
        const reason = (body.reason ?? '').trim();
        const requestedBy = (body.requestedBy ?? '').trim();
        if (!reason) return html(reply, 400, 'Not started', 'give a reason: it is kept with the bulk resolution');
        if (!requestedBy) return html(reply, 400, 'Not started', 'say who asks for it (requestedBy)');
        const query = parkedQuery(name);
        try {
          const { workflowId } = await bulkResolve({ query, decision: decided.decision, reason, requestedBy });
          options.logger.info(
            { event: 'status.bulk_resolve', integration: name, action: decided.decision.action, workflowId },
            'bulk resolution started',
          );
          const where = options.workflowUrl ? ` Follow it at ${options.workflowUrl(workflowId)}` : '';
          return html(
            reply,
            202,
            'Bulk resolution started',
            `Workflow ${workflowId} sends ${decided.decision.action} to every workflow matching ${query}.${where}`,
          );
        } catch (err) {
          const message = err instanceof Error ? err.message : String(err);
          return html(reply, 502, 'Not started', `the bulk resolution could not be started: ${message}`);
        }
      },
    );
  }
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send({
      error: `no route ${request.method} ${request.url.split('?')[0]!.slice(0, 100)}; try GET /, GET /api/status`,
    }),
  );
  const address = await app.listen({ host, port: options.port ?? 0 });
  url = address;
  options.logger.info({ event: 'status.listening', url: address }, `status page at ${address}`);
  return { url: address, close: () => app.close() };
}

/** Why an action request is refused (other origin, missing or wrong token), or undefined. */
function refuse(request: FastifyRequest, selfUrl: string, token: string | undefined): string | undefined {
  const origin = request.headers.origin;
  const hostHeader = request.headers.host ?? '';
  const self = new URL(selfUrl);
  // Loopback: only the page's own origins (127.0.0.1/localhost at our port), which also stops DNS rebinding.
  // Beyond it: the origin the request was addressed to, behind the token.
  const allowed = new Set([`${self.protocol}//${hostHeader}`]);
  if (!token) {
    const port = self.port;
    for (const h of ['127.0.0.1', 'localhost', '[::1]']) allowed.add(`${self.protocol}//${h}:${port}`);
    const hostName = hostHeader.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
    if (!(hostName === 'localhost' || (isIP(hostName) && loopbackHosts.has(hostName)) || hostName.startsWith('127.')))
      return `the Host header ${hostHeader} is not this loopback server`;
  }
  if (!origin) return 'no Origin header: actions are accepted from the status page itself only';
  if (!allowed.has(origin))
    return `requests from ${origin} are refused: actions are accepted from the status page itself only`;
  if (token) {
    const auth = request.headers.authorization;
    const given = auth?.startsWith('Bearer ')
      ? auth.slice(7)
      : ((request.body as Record<string, string> | undefined)?.token ?? '');
    if (!sameSecret(given, token)) return 'a valid operator token is required (STATUS_TOKEN)';
  }
  return undefined;
}

function sameSecret(a: string, b: string): boolean {
  const h = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(h(a), h(b)) && a.length > 0;
}

const actions = ['retry', 'retryWithBudget', 'compensate', 'fail'] as const;

function decisionOf(body: Record<string, string>): { decision: OperatorDecision } | { error: string } {
  const action = body.action;
  switch (action) {
    case 'retry':
    case 'compensate':
      return { decision: { action } };
    case 'retryWithBudget': {
      const budget = (body.budget ?? '').trim();
      if (!/^\d+(\.\d+)?\s*(ms|milliseconds?|s|seconds?|m|minutes?|h|hours?|d|days?)$/i.test(budget))
        return { error: 'retry with a new budget needs a budget such as "30 minutes" or "2 hours"' };
      return { decision: { action, budget } };
    }
    case 'fail':
      return { decision: { action, reason: (body.reason ?? '').trim() || 'failed by an operator' } };
    default:
      return { error: `decision must be one of ${actions.join(', ')} (skip needs a result per workflow: use the UI)` };
  }
}

function html(reply: FastifyReply, code: number, title: string, body: string) {
  return reply.code(code).type('text/html; charset=utf-8').send(renderNotice(title, body));
}
