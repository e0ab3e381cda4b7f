import { createConnection, createServer } from 'node:net';

export class PortInUseError extends Error {
  override readonly name = 'PortInUseError';
}

/** Whether `host:port` can be listened on now. */
export function portIsFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/**
 * Throws a {@link PortInUseError} naming the port, what wanted it and how to choose another (`hint`, e.g.
 * "set TEMPORAL_DEV_PORT"), when something already listens there: a port already taken is an error, never a
 * silent success against whatever holds it.
 */
export async function assertPortFree(port: number, what: string, hint: string, host = '127.0.0.1'): Promise<void> {
  if (await portIsFree(port, host)) return;
  throw new PortInUseError(
    `Port ${port} on ${host} (${what}) is already in use by another process. ${hint}, or stop that process (find it with: ss -ltnp 'sport = :${port}').`,
  );
}

/** A port nothing listens on now, from the kernel. */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen({ port: 0, host, exclusive: true }, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** `n` distinct free ports (held together while chosen, so none is handed out twice). */
export async function freePorts(n: number, host = '127.0.0.1'): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
          const server = createServer();
          server.once('error', reject);
          server.listen({ port: 0, host, exclusive: true }, () => resolve(server));
        }),
    ),
  );
  const ports = servers.map((s) => {
    const a = s.address();
    return typeof a === 'object' && a ? a.port : 0;
  });
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

/** Whether something accepts TCP connections on `host:port`. */
export function isListening(port: number, host = '127.0.0.1', timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/**
 * `n` distinct free ports below 32768 (outside Linux's ephemeral range, so the kernel never hands them to an
 * outgoing connection). The server stores membership ports in a PostgreSQL `smallint`: they must be < 32768.
 */
export async function freeLowPorts(n: number, host = '127.0.0.1', low = 20_000, high = 32_767): Promise<number[]> {
  const chosen: number[] = [];
  for (let tries = 0; chosen.length < n && tries < 2_000; tries++) {
    const port = low + Math.floor(Math.random() * (high - low));
    if (chosen.includes(port)) continue;
    if (await portIsFree(port, host)) chosen.push(port);
  }
  if (chosen.length < n) throw new PortInUseError(`could not find ${n} free ports between ${low} and ${high}`);
  return chosen;
}
