import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { connect, createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';

/**
 * A real OpenSSH server standing in for a bank's SFTP server, for the SFTP tests and `npm start`'s payroll
 * demo: OpenSSH's sshd (the tests install it with scripts/ensure-sshd.ts when missing) on a free loopback port, with its own sshd_config, host key and authorized key, serving one
 * key-authenticated system user (`di-sftp`, created when missing) chrooted to a directory this helper owns,
 * with `ForceCommand internal-sftp`. The system's sshd (port 22) and /etc/ssh are never touched.
 *
 * Layout under /srv/di-sftp/<random>/ (a chroot's every component must be root-owned and not writable by
 * others, which rules out /tmp): `etc/` (config, keys, pid) and `chroot/` (root-owned) holding the user's
 * writable `outbox/` and `inbox/`.
 */
export const SFTP_USER = 'di-sftp';

export interface SftpServer {
  host: string;
  port: number;
  username: string;
  /** The client's private key (OpenSSH format). */
  privateKey: string;
  /** Where the private key is, for `PAYROLL_SFTP_KEY_FILE`. */
  privateKeyFile: string;
  /** `SHA256:...` of the server's host key. */
  hostKeyFingerprint: string;
  /** The fingerprint of a key this server does not have, for the wrong-host-key case. */
  otherFingerprint: string;
  /** The chroot on this machine's disk: `<root>/outbox`, `<root>/inbox`. */
  root: string;
  /** Files in a directory of the chroot (dotfiles included), sorted. */
  files(dir: string): string[];
  read(dir: string, name: string): Buffer;
  /** Writes a file as the SFTP user would (owned by it). */
  write(dir: string, name: string, content: Buffer | string): void;
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops sshd and removes everything this helper made (the user stays: it is reused by the next run). */
  close(): Promise<void>;
}

/** Starts one, as root (the chroot and the system user need it), with the sshd binary at `sshd`. */
export async function startSftpServer(sshd: string): Promise<SftpServer> {
  ensureUser();
  mkdirSync('/srv/di-sftp', { recursive: true, mode: 0o755 });
  chmodSync('/srv/di-sftp', 0o755);
  const base = mkdtempSync('/srv/di-sftp/run-');
  chmodSync(base, 0o755);
  const etc = join(base, 'etc');
  const root = join(base, 'chroot');
  mkdirSync(etc, { mode: 0o700 });
  mkdirSync(root, { mode: 0o755 });
  const { uid, gid } = userIds();
  for (const dir of ['outbox', 'inbox']) {
    mkdirSync(join(root, dir), { mode: 0o755 });
    chownSync(join(root, dir), uid, gid);
  }
  // /run/sshd: sshd's privilege-separation directory, which the package expects to exist.
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });

  const keygen = (file: string) =>
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'di-test', '-f', file]);
  keygen(join(etc, 'host_ed25519'));
  keygen(join(etc, 'client_ed25519'));
  keygen(join(etc, 'other_ed25519'));
  // Read by sshd as the user: its own world-readable directory, root-owned (etc/ keeps the host key private).
  const keys = join(base, 'keys');
  mkdirSync(keys, { mode: 0o755 });
  writeFileSync(join(keys, 'authorized_keys'), readFileSync(join(etc, 'client_ed25519.pub')), { mode: 0o644 });
  const fingerprint = (pub: string) =>
    execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', pub], { encoding: 'utf8' }).split(' ')[1]!;

  const port = await freePort();
  const config = join(etc, 'sshd_config');
  writeFileSync(
    config,
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${join(etc, 'host_ed25519')}`,
      `PidFile ${join(etc, 'sshd.pid')}`,
      `AuthorizedKeysFile ${join(keys, 'authorized_keys')}`,
      'PubkeyAuthentication yes',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PermitRootLogin no',
      'UsePAM no',
      `AllowUsers ${SFTP_USER}`,
      'Subsystem sftp internal-sftp',
      'LogLevel VERBOSE',
      `Match User ${SFTP_USER}`,
      `  ChrootDirectory ${root}`,
      '  ForceCommand internal-sftp -d /',
      '  AllowTcpForwarding no',
      '  X11Forwarding no',
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  execFileSync(sshd, ['-t', '-f', config]); // a config error fails here, with sshd's message

  let child: ChildProcess | undefined;
  const log: string[] = [];
  const start = async () => {
    const proc = spawn(sshd, ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
    proc.stderr.on('data', (d: Buffer) => {
      log.push(d.toString());
      if (process.env.DEBUG_SSHD) process.stderr.write(d);
    });
    child = proc;
    await pollUntil(
      `sshd listening on 127.0.0.1:${port} (${log.join('').slice(-500)})`,
      () => canConnect(port),
      15_000,
      50,
    );
  };
  const stop = async () => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill('SIGTERM'); // the listener; sessions in flight are its children and end with their clients
    await exited;
    await pollUntil(`sshd on ${port} to stop listening`, async () => !(await canConnect(port)), 15_000, 50);
  };
  await start();

  const privateKeyFile = join(etc, 'client_ed25519');
  return {
    host: '127.0.0.1',
    port,
    username: SFTP_USER,
    privateKey: readFileSync(privateKeyFile, 'utf8'),
    privateKeyFile,
    hostKeyFingerprint: fingerprint(join(etc, 'host_ed25519.pub')),
    otherFingerprint: fingerprint(join(etc, 'other_ed25519.pub')),
    root,
    files: (dir) => readdirSync(join(root, dir)).sort(),
    read: (dir, name) => readFileSync(join(root, dir, name)),
    write: (dir, name, content) => {
      const path = join(root, dir, name);
      writeFileSync(path, content);
      chownSync(path, uid, gid);
    },
    start,
    stop,
    close: async () => {
      await stop();
      rmSync(base, { recursive: true, force: true });
    },
  };
}

function ensureUser(): void {
  try {
    execFileSync('id', ['-u', SFTP_USER], { stdio: 'ignore' });
  } catch {
    execFileSync('useradd', [
      '--system',
      '--no-create-home',
      '--home-dir',
      '/nonexistent',
      '--shell',
      '/usr/sbin/nologin',
      SFTP_USER,
    ]);
  }
  // A locked password ("!") makes sshd without PAM refuse even key logins; "*" means no password, not locked.
  execFileSync('usermod', ['-p', '*', SFTP_USER]);
}

function userIds(): { uid: number; gid: number } {
  const uid = Number(execFileSync('id', ['-u', SFTP_USER], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', SFTP_USER], { encoding: 'utf8' }).trim());
  return { uid, gid };
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Polls `check` every `intervalMs` until it holds; fails saying `what` after `timeoutMs`. */
async function pollUntil(what: string, check: () => Promise<boolean>, timeoutMs: number, intervalMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
