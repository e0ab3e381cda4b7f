// What the tests need from the machine (Chromium, sshd, Prometheus), installed from Debian's packages when it
// is missing, so `npm test` on a fresh machine needs nothing installed by hand. Installing needs root and
// apt-get; where either is missing, or apt fails, the error says exactly what to run instead.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** Runs a command with the process's environment; its exit code and output. Replaced in unit tests. */
export type Run = (command: string, args: string[]) => { status: number | null; output: string };

export interface AptInstallOptions {
  /** The Debian package, e.g. `chromium`. */
  pkg: string;
  /** apt-get install flags before the package name, e.g. `--no-install-recommends`. */
  flags?: string[];
  /** What else the user may do, closing every error, e.g. `or set CHROMIUM_PATH to a Chromium binary`. */
  otherwise: string;
  /** The caller's own error type, carrying the message. */
  fail: (message: string) => Error;
  onProgress?: (line: string) => void;
  run?: Run;
  /** Whether this process may install packages. @default root (uid 0) */
  isRoot?: boolean;
  /** Whether apt-get is there. @default asks the shell */
  hasApt?: boolean;
}

/** The command that installs a package on a Debian machine, as a user should run it. */
export function installCommand(pkg: string, flags: string[] = []): string {
  return `apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y ${[...flags, pkg].join(' ')}`;
}

/**
 * Installs a Debian package with apt-get, refreshing the package lists once when the first attempt fails (a
 * fresh machine has none, or stale ones). Throws the caller's error, saying what to run, when this user is
 * not root, there is no apt-get, or apt fails (with the end of its output).
 */
export function aptInstall(options: AptInstallOptions): void {
  const run = options.run ?? defaultRun;
  const say = options.onProgress ?? (() => {});
  const flags = options.flags ?? [];
  const command = installCommand(options.pkg, flags);
  if (!(options.isRoot ?? process.getuid?.() === 0))
    throw options.fail(
      `${options.pkg} is not installed, and installing it needs root (this user is not): run \`sudo sh -c '${command}'\`, ${options.otherwise}.`,
    );
  if (!(options.hasApt ?? run('sh', ['-c', 'command -v apt-get']).status === 0))
    throw options.fail(
      `${options.pkg} is not installed, and there is no apt-get here to install it: install it with your package manager, ${options.otherwise}.`,
    );
  const failed = (step: string, output: string) =>
    options.fail(
      `Installing ${options.pkg} failed at \`${step}\`:\n${output.trim().split('\n').slice(-5).join('\n')}\n` +
        `Run \`${command}\` as root and fix what it reports, ${options.otherwise}.`,
    );
  const install = () => run('apt-get', ['install', '-y', '-q', ...flags, options.pkg]);
  say(`installing Debian's ${options.pkg} package (once per machine)`);
  let result = install();
  if (result.status !== 0) {
    say('apt-get install failed; running apt-get update once and trying again');
    const update = run('apt-get', ['update', '-q']);
    if (update.status !== 0) throw failed('apt-get update', update.output);
    result = install();
  }
  if (result.status !== 0) throw failed(`apt-get install -y ${options.pkg}`, result.output);
}

export interface PackagedBinaryOptions extends Omit<AptInstallOptions, 'otherwise'> {
  /** Where the binary is expected once the package is installed, e.g. `/usr/bin/chromium`. */
  path: string;
  /** The variable that points at another binary instead (never installed over: it must exist). */
  envVar: string;
  env?: NodeJS.ProcessEnv;
}

/**
 * The path of a binary that a Debian package provides, installing the package first when the binary is
 * missing. An explicit `<envVar>` is used as it is: when it names nothing, that is an error, not an install.
 */
export function ensurePackagedBinary(options: PackagedBinaryOptions): string {
  const env = options.env ?? process.env;
  const { path, envVar, pkg } = options;
  if (existsSync(path)) return path;
  const configured = env[envVar];
  if (configured)
    throw options.fail(
      `${envVar} is ${configured}, which does not exist: point it at the binary, or unset it to use Debian's (${installCommand(pkg, options.flags)}).`,
    );
  aptInstall({ ...options, otherwise: `or set ${envVar} to the binary` });
  if (!existsSync(path))
    throw options.fail(
      `apt-get installed ${pkg}, but there is no ${path}: set ${envVar} to the binary it installed (dpkg -L ${pkg} | grep bin/).`,
    );
  options.onProgress?.(`${pkg} installed: ${path}`);
  return path;
}

function defaultRun(command: string, args: string[]): { status: number | null; output: string } {
  const result = spawnSync(command, args, {
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    timeout: 600_000,
  });
  return {
    status: result.status,
    output: `${result.stdout ?? ''}${result.stderr ?? ''}${result.error?.message ?? ''}`,
  };
}
