// `node --import tsx scripts/ensure-chromium.ts`: makes sure the browser test (test/browser/) has its headless
// Chromium, installing Debian's package when it is missing. The test setup (test/global-setup.ts) and .ci/run
// call the same function, so `npm test` on a fresh machine needs nothing installed by hand.
import { ensurePackagedBinary, type Run } from './debian-package';

/** Where the browser test looks for Chromium (test/browser/operator-view.test.ts reads the same). */
export function chromiumPath(env: NodeJS.ProcessEnv = process.env): string {
  return env.CHROMIUM_PATH ?? '/usr/bin/chromium';
}

export class ChromiumUnavailableError extends Error {
  override readonly name = 'ChromiumUnavailableError';
}

export interface EnsureChromiumOptions {
  env?: NodeJS.ProcessEnv;
  onProgress?: (line: string) => void;
  /** Runs a command; returns its exit code and output. For tests. */
  run?: Run;
  /** Whether this process may install packages. @default root (uid 0) */
  isRoot?: boolean;
  /** Where Chromium is expected. @default {@link chromiumPath} */
  path?: string;
}

/**
 * Returns the path of a Chromium binary, installing Debian's `chromium` package first when it is missing
 * (Playwright's own browser download needs internet, which these machines do not have). Where that cannot be
 * done, throws a {@link ChromiumUnavailableError} that says exactly what to run.
 */
export function ensureChromium(options: EnsureChromiumOptions = {}): string {
  const env = options.env ?? process.env;
  return ensurePackagedBinary({
    ...options,
    env,
    pkg: 'chromium',
    path: options.path ?? chromiumPath(env),
    envVar: 'CHROMIUM_PATH',
    fail: (message) => new ChromiumUnavailableError(`The browser test needs Chromium. ${message}`),
  });
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
