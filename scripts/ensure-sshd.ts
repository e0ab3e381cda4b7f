// `node --import tsx scripts/ensure-sshd.ts`: makes sure the SFTP tests (test/integration/sftp*.test.ts) have
// OpenSSH's server binary, installing Debian's openssh-server package when it is missing. The tests'
// server helper (test/support/sftp-server.ts) calls the same function. It only installs the binary: the
// tests run their own sshd on a loopback port with their own config; the system's sshd and /etc/ssh are
// never started, stopped or edited here.
import { ensurePackagedBinary, type Run } from './debian-package';

export class SshdUnavailableError extends Error {
  override readonly name = 'SshdUnavailableError';
}

/** Where the tests look for sshd (`SSHD_PATH` overrides). */
export function sshdPath(env: NodeJS.ProcessEnv = process.env): string {
  return env.SSHD_PATH ?? '/usr/sbin/sshd';
}

export interface EnsureSshdOptions {
  env?: NodeJS.ProcessEnv;
  onProgress?: (line: string) => void;
  run?: Run;
  /** Whether this process may install packages. @default root (uid 0) */
  isRoot?: boolean;
  /** Where sshd is expected. @default {@link sshdPath} */
  path?: string;
}

/**
 * Returns the path of sshd, installing `openssh-server` first when it is missing. Where that cannot be
 * done (not root, no apt-get, the install fails), throws an {@link SshdUnavailableError} saying what to run.
 */
export function ensureSshd(options: EnsureSshdOptions = {}): string {
  const env = options.env ?? process.env;
  return ensurePackagedBinary({
    ...options,
    env,
    pkg: 'openssh-server',
    path: options.path ?? sshdPath(env),
    envVar: 'SSHD_PATH',
    fail: (message) => new SshdUnavailableError(`The SFTP tests need sshd. ${message}`),
  });
}

if (require.main === module) {
  try {
    process.stdout.write(`sshd: ${ensureSshd({ onProgress: (line) => process.stdout.write(`${line}\n`) })}\n`);
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  }
}
