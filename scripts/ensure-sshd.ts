// `node --import tsx scripts/ensure-sshd.ts`: makes sure the SFTP tests (test/integration/sftp*.test.ts) have
// OpenSSH's server binary, installing Debian's openssh-server package when it is missing. The tests'
// server helper (test/support/sftp-server.ts) calls the same function. It only installs the binary: the
// tests run their own sshd on a loopback port with their own config; the system's sshd and /etc/ssh are
// never started, stopped or edited here.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export class SshdUnavailableError extends Error {
  override readonly name = 'SshdUnavailableError';
}

/** Where the tests look for sshd (`SSHD_PATH` overrides). */
export function sshdPath(env: NodeJS.ProcessEnv = process.env): string {
  return env.SSHD_PATH ?? '/usr/sbin/sshd';
}

const INSTALL = 'apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y openssh-server';

export interface EnsureSshdOptions {
  env?: NodeJS.ProcessEnv;
  onProgress?: (line: string) => void;
  run?: (command: string, args: string[]) => { status: number | null; output: string };
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
  const say = options.onProgress ?? (() => {});
  const run = options.run ?? defaultRun;
  const path = options.path ?? sshdPath(env);
  if (existsSync(path)) return path;
  if (env.SSHD_PATH)
    throw new SshdUnavailableError(
      `SSHD_PATH is ${env.SSHD_PATH}, which does not exist: point it at sshd, or unset it.`,
    );
  if (!(options.isRoot ?? process.getuid?.() === 0))
    throw new SshdUnavailableError(
      `sshd is not installed at ${path} and this user cannot install it (not root). The SFTP tests need it: run \`sudo sh -c '${INSTALL}'\`, or set SSHD_PATH.`,
    );
  if (run('sh', ['-c', 'command -v apt-get']).status !== 0)
    throw new SshdUnavailableError(
      `sshd is not installed at ${path} and there is no apt-get here: install OpenSSH's server and set SSHD_PATH to its sshd.`,
    );
  const install = () => run('apt-get', ['install', '-y', '-q', 'openssh-server']);
  say(`sshd is missing at ${path}: installing Debian's openssh-server package (once per machine)`);
  let result = install();
  if (result.status !== 0) {
    say('apt-get install failed; running apt-get update once and trying again');
    const update = run('apt-get', ['update', '-q']);
    if (update.status !== 0) throw installFailed('apt-get update', update.output);
    result = install();
  }
  if (result.status !== 0) throw installFailed('apt-get install -y openssh-server', result.output);
  if (!existsSync(path))
    throw new SshdUnavailableError(`apt-get installed openssh-server, but there is no ${path}: set SSHD_PATH.`);
  say(`sshd installed at ${path}`);
  return path;
}

function installFailed(step: string, output: string): SshdUnavailableError {
  const tail = output.trim().split('\n').slice(-5).join('\n');
  return new SshdUnavailableError(
    `Installing sshd for the SFTP tests failed at \`${step}\`:\n${tail}\nRun \`${INSTALL}\` as root and fix what it reports, or set SSHD_PATH.`,
  );
}

function defaultRun(command: string, args: string[]): { status: number | null; output: string } {
  const result = spawnSync(command, args, {
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  return {
    status: result.status,
    output: `${result.stdout ?? ''}${result.stderr ?? ''}${result.error?.message ?? ''}`,
  };
}

if (require.main === module) {
  try {
    process.stdout.write(`sshd: ${ensureSshd({ onProgress: (line) => process.stdout.write(`${line}\n`) })}\n`);
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  }
}
