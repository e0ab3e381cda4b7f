// `node --import tsx scripts/ensure-chromium.ts`: makes sure the browser test (test/browser/) has its headless
// Chromium, installing Debian's package when it is missing. The test setup (test/global-setup.ts) and .ci/run
// call the same function, so `npm test` on a fresh machine needs nothing installed by hand.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** Where the browser test looks for Chromium (test/browser/operator-view.test.ts reads the same). */
export function chromiumPath(env: NodeJS.ProcessEnv = process.env): string {
  return env.CHROMIUM_PATH ?? '/usr/bin/chromium';
}

export class ChromiumUnavailableError extends Error {
  override readonly name = 'ChromiumUnavailableError';
}

const INSTALL = 'apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium';

export interface EnsureChromiumOptions {
  env?: NodeJS.ProcessEnv;
  onProgress?: (line: string) => void;
  /** Runs a command, inheriting nothing but the environment; returns its exit code and output. For tests. */
  run?: (command: string, args: string[]) => { status: number | null; output: string };
  /** Whether this process may install packages. @default root (uid 0) */
  isRoot?: boolean;
  /** Where Chromium is expected. @default {@link chromiumPath} */
  path?: string;
}

/**
 * Returns the path of a Chromium binary, installing Debian's `chromium` package first when it is missing
 * (Playwright's own browser download needs internet, which these machines do not have). Installing needs
 * root and apt; where either is missing, or the install fails, throws a {@link ChromiumUnavailableError}
 * that says exactly what to run. An explicit `CHROMIUM_PATH` is never installed over: it must exist.
 */
export function ensureChromium(options: EnsureChromiumOptions = {}): string {
  const env = options.env ?? process.env;
  const say = options.onProgress ?? (() => {});
  const run = options.run ?? defaultRun;
  const path = options.path ?? chromiumPath(env);
  if (existsSync(path)) return path;
  if (env.CHROMIUM_PATH)
    throw new ChromiumUnavailableError(
      `CHROMIUM_PATH is ${env.CHROMIUM_PATH}, which does not exist: point it at a Chromium binary, or unset it to use Debian's (${INSTALL}).`,
    );
  const isRoot = options.isRoot ?? process.getuid?.() === 0;
  if (!isRoot)
    throw new ChromiumUnavailableError(
      `Chromium is not installed at ${path} and this user cannot install it (not root). The browser test needs it: run \`sudo sh -c '${INSTALL}'\`, or set CHROMIUM_PATH to a Chromium binary.`,
    );
  if (run('sh', ['-c', 'command -v apt-get']).status !== 0)
    throw new ChromiumUnavailableError(
      `Chromium is not installed at ${path} and there is no apt-get here to install it. Install Chromium with your package manager and set CHROMIUM_PATH to its binary.`,
    );
  const install = () => run('apt-get', ['install', '-y', '-q', 'chromium']);
  say(`Chromium is missing at ${path}: installing Debian's chromium package (a minute or two, once per machine)`);
  let result = install();
  if (result.status !== 0) {
    // A fresh machine has no (or stale) package lists: refresh them once, then try again.
    say('apt-get install failed; running apt-get update once and trying again');
    const update = run('apt-get', ['update', '-q']);
    if (update.status !== 0) throw installFailed('apt-get update', update.output);
    result = install();
  }
  if (result.status !== 0) throw installFailed('apt-get install -y chromium', result.output);
  if (!existsSync(path))
    throw new ChromiumUnavailableError(
      `apt-get installed chromium, but there is no ${path}: set CHROMIUM_PATH to the binary it installed (dpkg -L chromium | grep bin/).`,
    );
  say(`Chromium installed at ${path}`);
  return path;
}

function installFailed(step: string, output: string): ChromiumUnavailableError {
  const tail = output.trim().split('\n').slice(-5).join('\n');
  return new ChromiumUnavailableError(
    `Installing Chromium for the browser test failed at \`${step}\`:\n${tail}\nRun \`${INSTALL}\` as root and fix what it reports, or set CHROMIUM_PATH to a Chromium binary.`,
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
    const path = ensureChromium({ onProgress: (line) => process.stdout.write(`${line}\n`) });
    process.stdout.write(`Chromium: ${path}\n`);
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  }
}
