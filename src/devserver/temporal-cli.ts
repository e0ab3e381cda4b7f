import { existsSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { findOnPath, goInstall, probeVersion as probe } from './go';

/**
 * The Temporal CLI release built from source when no binary is at hand.
 * Pinned here and nowhere else. `go install` refuses modules whose go.mod has `replace` directives;
 * v1.5.1 is the newest release without one in the module proxy (v1.9.1 adds `replace .../cliext`).
 */
export const TEMPORAL_CLI_VERSION = 'v1.5.1';
export const TEMPORAL_CLI_MODULE = 'github.com/temporalio/cli/cmd/temporal';

export type CliSource = 'env' | 'path' | 'cache' | 'go-install';

export interface ResolvedCli {
  /** Absolute path of the `temporal` binary. */
  path: string;
  source: CliSource;
  /** First line of `temporal --version`, e.g. `temporal version 1.5.1 (Server 1.29.1, UI 2.42.1)`. */
  version: string;
}

export interface ResolveOptions {
  /** @default process.env */
  env?: NodeJS.ProcessEnv;
  /** Called with human-readable progress lines (the first `go install` takes minutes). */
  onProgress?: (line: string) => void;
}

export class TemporalCliNotFoundError extends Error {
  override readonly name = 'TemporalCliNotFoundError';
}

/** `$XDG_CACHE_HOME/durable-integrations` or `~/.cache/durable-integrations`. */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'durable-integrations');
}

export function cachedCliPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(cacheDir(env), 'temporal-cli', TEMPORAL_CLI_VERSION, 'temporal');
}

/**
 * Finds a Temporal CLI, in this order: `TEMPORAL_CLI_PATH`; `temporal` on PATH; the copy cached by an
 * earlier run; a fresh `go install` of the pinned version into that cache. Throws
 * {@link TemporalCliNotFoundError} naming every way it tried, with what to do, when none works.
 * (The SDK's own download, for machines with internet, is the caller's last resort: see dev-server.ts.)
 */
export async function resolveTemporalCli(options: ResolveOptions = {}): Promise<ResolvedCli> {
  const env = options.env ?? process.env;
  const progress = options.onProgress ?? (() => {});
  const tried: string[] = [];

  if (env.TEMPORAL_CLI_PATH) {
    const version = await probe(env.TEMPORAL_CLI_PATH);
    if (version) return { path: env.TEMPORAL_CLI_PATH, source: 'env', version };
    // An explicit path that does not work is a mistake to report, not to paper over.
    throw new TemporalCliNotFoundError(
      `TEMPORAL_CLI_PATH=${env.TEMPORAL_CLI_PATH} is not a working Temporal CLI (running it with --version failed). ` +
        `Point it at a 'temporal' binary, or unset it to let the project find or build one.`,
    );
  }
  tried.push('TEMPORAL_CLI_PATH: not set');

  const onPath = findOnPath('temporal', env);
  if (onPath) {
    const version = await probe(onPath);
    if (version) return { path: onPath, source: 'path', version };
    tried.push(`PATH: ${onPath} did not answer --version`);
  } else {
    tried.push('PATH: no `temporal` binary');
  }

  const cached = cachedCliPath(env);
  if (existsSync(cached)) {
    const version = await probe(cached);
    if (version) return { path: cached, source: 'cache', version: stampVersion(version) };
    tried.push(`cache: ${cached} is broken (removed; it will be rebuilt)`);
    rmSync(cached, { force: true });
  } else {
    tried.push(`cache: nothing at ${cached}`);
  }

  const go = findOnPath('go', env);
  if (go) {
    try {
      await goInstall(
        go,
        TEMPORAL_CLI_VERSION,
        [{ pkg: TEMPORAL_CLI_MODULE, builtAs: 'temporal', target: cached }],
        env,
        progress,
        'the Temporal CLI',
      );
      const version = await probe(cached);
      if (version) return { path: cached, source: 'go-install', version: stampVersion(version) };
      tried.push(`go install: built ${cached} but it does not run`);
    } catch (err) {
      tried.push(`go install ${TEMPORAL_CLI_MODULE}@${TEMPORAL_CLI_VERSION}: ${(err as Error).message}`);
    }
  } else {
    tried.push('go install: no `go` on PATH');
  }

  throw new TemporalCliNotFoundError(notFoundMessage(tried, cached));
}

export function notFoundMessage(tried: string[], cached: string): string {
  return [
    'No Temporal CLI could be found or built. Tried, in order:',
    ...tried.map((t) => `  - ${t}`),
    'To fix, do one of:',
    '  - set TEMPORAL_CLI_PATH to a `temporal` binary (e.g. copied from a machine that has one);',
    '  - put `temporal` on PATH (https://docs.temporal.io/cli#install);',
    `  - install Go >= 1.24 with access to a Go module proxy, then run \`npm run temporal:install\` (builds ${TEMPORAL_CLI_VERSION} into ${cached});`,
    '  - on a machine with internet, the Temporal SDK downloads the CLI itself (tried last when starting the dev server).',
  ].join('\n');
}

/** `go install` leaves the CLI's own version unset (`0.0.0-DEV`); we know which one we built. */
function stampVersion(line: string): string {
  return line.replace('0.0.0-DEV', TEMPORAL_CLI_VERSION.replace(/^v/, ''));
}
