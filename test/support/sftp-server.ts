import { connect, createServer, type Server, type Socket } from 'node:net';
import { ensureSshd } from '../../scripts/ensure-sshd';
import { freePort, startSftpServer as startServer, type SftpServer } from '../../src/devserver/sftp-server';

export { SFTP_USER, freePort } from '../../src/devserver/sftp-server';
export type SftpTestServer = SftpServer;

/** The SFTP tests' server (src/devserver/sftp-server.ts), with Debian's openssh-server installed first when missing. */
export function startSftpServer(): Promise<SftpTestServer> {
  return startServer(ensureSshd());
}

/**
 * A TCP proxy in front of sshd that can cut a connection mid-transfer: `cutAfter(n)` destroys the next
 * connection (both sides) once more than `n` bytes went from the client to the server through it. One
 * cut per call; other connections pass untouched.
 */
export class CuttingProxy {
  private server?: Server;
  private cutAt?: number;
  private readonly sockets = new Set<Socket>();
  /** Connections cut so far. */
  cuts = 0;
  port = 0;

  constructor(private readonly target: number) {}

  async start(): Promise<void> {
    this.port = await freePort();
    this.server = createServer((client) => {
      const upstream = connect(this.target, '127.0.0.1');
      this.sockets.add(client).add(upstream);
      let sent = 0;
      client.on('data', (chunk: Buffer) => {
        sent += chunk.length;
        if (this.cutAt !== undefined && sent > this.cutAt) {
          this.cutAt = undefined;
          this.cuts++;
          client.destroy();
          upstream.destroy();
          return;
        }
        upstream.write(chunk);
      });
      upstream.on('data', (chunk: Buffer) => client.write(chunk));
      const end = () => {
        client.destroy();
        upstream.destroy();
        this.sockets.delete(client);
        this.sockets.delete(upstream);
      };
      client.on('close', end).on('error', end);
      upstream.on('close', end).on('error', end);
    });
    await new Promise<void>((resolve) => this.server!.listen(this.port, '127.0.0.1', resolve));
  }

  cutAfter(bytes: number): void {
    this.cutAt = bytes;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
