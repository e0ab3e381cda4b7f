import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { startService, type ServiceProcess } from '../../src/devserver/service-process';
import { TMP_DIR } from '../support/stack';
import { testEnv } from '../support/temporal';
import { waitFor } from '../support/wait';

/**
 * A TCP proxy to the test server that can be cut (every connection destroyed, nothing accepted) and
 * restored on the same port: Temporal becoming unreachable, then coming back, as the worker sees it.
 */
class CuttableProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  port = 0;

  constructor(private readonly target: { host: string; port: number }) {}

  async listen(): Promise<void> {
    const server = createServer((client) => {
      const upstream = createConnection(this.target);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.once('close', () => this.sockets.delete(s));
        s.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream);
      upstream.pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: '127.0.0.1', port: this.port }, () => resolve());
    });
    const address = server.address();
    this.port = typeof address === 'object' && address ? address.port : 0;
    this.server = server;
  }

  /** Stops accepting and destroys every open connection, both ways. */
  async cut(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    const closed = server ? new Promise((resolve) => server.close(resolve)) : Promise.resolve();
    for (const s of this.sockets) s.destroy();
    await closed;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }
}

interface Readiness {
  status: number;
  body: { status?: string; checks?: Record<string, boolean> };
}

async function get(url: string): Promise<Readiness> {
  const response = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  return { status: response.status, body: (await response.json()) as Readiness['body'] };
}

describe('worker health (/livez, /readyz on WORKER_OPS_PORT)', () => {
  let proxy: CuttableProxy;
  let worker: ServiceProcess;
  let health: string;

  beforeAll(async () => {
    const [host, port] = testEnv.temporalAddress.split(':');
    proxy = new CuttableProxy({ host: host!, port: Number(port) });
    await proxy.listen();
    // A real worker process (src/workers/main.ts), reaching Temporal only through the proxy.
    worker = startService({
      name: 'worker-health',
      entry: 'src/workers/main.ts',
      env: { ...process.env, TEMPORAL_ADDRESS: proxy.address, WORKER_OPS_PORT: '0', LOG_LEVEL: 'info' },
      logFile: join(TMP_DIR, 'logs', `worker-health-${process.pid}.log`),
      readyEvent: 'worker.ready',
    });
    health = String((await worker.ready).health);
  }, 90_000);

  afterAll(async () => {
    await worker?.stop();
    await proxy?.cut();
  });

  it('is live and ready once every worker polls and Temporal answers', async () => {
    expect(health).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect((await get(`${health}/livez`)).status).toBe(200);
    const ready = await get(`${health}/readyz`);
    expect(ready).toEqual({
      status: 200,
      body: expect.objectContaining({ status: 'ready', checks: { polling: true, temporal: true } }) as unknown,
    });
  });

  it('turns not ready while Temporal is unreachable, stays live, and is ready again once it is back', async () => {
    await proxy.cut();
    let last: Readiness | undefined;
    await waitFor(
      '/readyz to answer 503 with Temporal unreachable',
      async () => {
        last = await get(`${health}/readyz`);
        return last.status === 503 && last.body.checks?.temporal === false;
      },
      60_000,
      250,
    );
    expect(last?.body.status).toBe('not ready');
    // Not dead: restarting the worker would not bring Temporal back.
    expect((await get(`${health}/livez`)).status).toBe(200);
    expect(worker.child.exitCode).toBeNull();

    await proxy.listen(); // the same port: Temporal is back
    await waitFor(
      '/readyz to answer 200 again once Temporal is reachable',
      async () => {
        last = await get(`${health}/readyz`);
        return last.status === 200;
      },
      120_000,
      250,
    );
    expect(last?.body.checks).toEqual({ polling: true, temporal: true });
    expect((await get(`${health}/livez`)).status).toBe(200);
  }, 200_000);
});
