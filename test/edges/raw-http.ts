import { connect, type Socket } from 'node:net';
import { waitFor } from '../support/wait';

/** A raw TCP connection to a server, for bytes no HTTP client would send. */
export interface RawConnection {
  socket: Socket;
  /** Everything received so far, latin1. */
  received(): string;
  /** Status codes of the responses received so far, in order. */
  statuses(): number[];
  closed(): boolean;
  /** Waits (generous cap) until `count` responses arrived. */
  responses(count: number): Promise<number[]>;
  /** Waits (generous cap) until the server closed the connection. */
  untilClosed(): Promise<string>;
  destroy(): void;
}

export function rawConnect(url: string): Promise<RawConnection> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    let data = '';
    let closed = false;
    const socket = connect(Number(port), hostname.replace(/^\[|\]$/g, ''));
    socket.on('data', (chunk: Buffer) => (data += chunk.toString('latin1')));
    socket.on('close', () => (closed = true));
    // A reset by the server is one way of closing.
    socket.on('error', () => (closed = true));
    const statuses = () => [...data.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]));
    socket.once('connect', () =>
      resolve({
        socket,
        received: () => data,
        statuses,
        closed: () => closed,
        async responses(count) {
          await waitFor(`${count} responses (got ${statuses().length})`, () => statuses().length >= count, 15_000);
          return statuses();
        },
        async untilClosed() {
          await waitFor('the server to close the connection', () => closed, 20_000);
          return data;
        },
        destroy: () => socket.destroy(),
      }),
    );
    socket.once('error', reject);
  });
}

/** One request as raw bytes. */
export function rawRequest(method: string, target: string, headers: Record<string, string>, body = ''): string {
  const head = Object.entries({ host: 'edge.test', ...headers, 'content-length': String(Buffer.byteLength(body)) })
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  return `${method} ${target} HTTP/1.1\r\n${head}\r\n${body}`;
}
