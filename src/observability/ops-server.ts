import Fastify, { type FastifyInstance } from 'fastify';
import type { Logger } from './logger';

/**
 * The operations port of a process: liveness, readiness (and whatever else operators and Prometheus read,
 * registered by the process), on a port of its own so nothing here is reachable from a public port.
 *
 * - `GET /livez`: 200 while the process's event loop answers. An orchestrator restarts the process when
 *   this fails, so it checks nothing outside the process: a Temporal outage must not restart every worker.
 * - `GET /readyz`: 200 when every check passes, 503 otherwise, with each check's result as JSON. An
 *   orchestrator stops routing to (or waits for) a process that is not ready.
 *
 * Fastify because it answers every request exactly once (keep-alive, pipelining, timeouts) without the
 * project writing an HTTP layer; the same framework serves the public edges.
 */
export interface ReadinessCheck {
  /** Short, stable name shown in the `/readyz` answer, e.g. `temporal` or `polling`. */
  readonly name: string;
  /** Resolves with `true` when ready; a rejection or `false` means not ready. Must answer within a second or two. */
  check(): Promise<boolean> | boolean;
}

export interface OpsServerOptions {
  readonly name: string;
  readonly host: string;
  /** 0 picks a free port (printed in the process's ready line). */
  readonly port: number;
  readonly logger: Logger;
  readonly checks: readonly ReadinessCheck[];
  /** Extra routes (metrics, statistics) on the same private port. */
  readonly routes?: (app: FastifyInstance) => void;
}

export interface OpsServer {
  readonly url: string;
  close(): Promise<void>;
}

/** Budget of one readiness check: a check that hangs (a black-holed connection) counts as not ready. */
const checkBudgetMs = 2_000;

async function runCheck(check: ReadinessCheck): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), checkBudgetMs);
  });
  try {
    return await Promise.race([Promise.resolve().then(() => check.check()), timeout]);
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

export async function startOpsServer(options: OpsServerOptions): Promise<OpsServer> {
  const app = Fastify({
    logger: false,
    // Operators' probes are tiny GETs: anything slow or large is not one of them.
    connectionTimeout: 10_000,
    requestTimeout: 5_000,
    bodyLimit: 1_024,
  });
  // Every route registered below (ours and the process's), for the 404 hint; HEAD is implied by GET.
  const registered: string[] = [];
  app.addHook('onRoute', (route) => {
    const methods = (Array.isArray(route.method) ? route.method : [route.method]).filter((m) => m !== 'HEAD');
    for (const method of methods) registered.push(`${method} ${route.url}`);
  });
  app.get('/livez', (_request, reply) => reply.send({ status: 'ok', process: options.name }));
  app.get('/readyz', async (_request, reply) => {
    const results = await Promise.all(options.checks.map(async (c) => [c.name, await runCheck(c)] as const));
    const ready = results.every(([, ok]) => ok);
    return reply
      .code(ready ? 200 : 503)
      .send({ status: ready ? 'ready' : 'not ready', process: options.name, checks: Object.fromEntries(results) });
  });
  options.routes?.(app);
  app.setNotFoundHandler((request, reply) => {
    const path = (request.url.split('?')[0] ?? '').slice(0, 100);
    void reply.code(404).send({ error: `no route ${request.method} ${path}; try ${registered.join(', ')}` });
  });
  const address = await app.listen({ host: options.host, port: options.port });
  options.logger.info({ event: 'ops.listening', url: address }, `${options.name} health at ${address}/readyz`);
  return {
    url: address,
    close: () => app.close(),
  };
}
