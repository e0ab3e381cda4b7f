import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { cacheDir } from '../devserver/temporal-cli';
import { findGo, findOnPath, goInstall, probeVersion } from '../devserver/go';
import {
  TEMPORAL_SERVER_MODULE,
  TEMPORAL_SERVER_VERSION,
  TEMPORAL_UI_SERVER_MODULE,
  TEMPORAL_UI_SERVER_VERSION,
} from './versions';

/** The binaries the cluster runs. */
export type ClusterTool = 'temporal-server' | 'temporal-sql-tool' | 'temporal-ui-server';

interface ToolSpec {
  /** An explicit binary; skips every other way. */
  pathVariable: string;
  pkg: string;
  module: string;
  version: string;
  /** The name `go install` gives it. */
  builtAs: string;
  /** Under the cache dir. */
  cacheSubdir: string;
}

export const clusterTools: Record<ClusterTool, ToolSpec> = {
  'temporal-server': {
    pathVariable: 'TEMPORAL_SERVER_PATH',
    pkg: `${TEMPORAL_SERVER_MODULE}/cmd/server`,
    module: TEMPORAL_SERVER_MODULE,
    version: TEMPORAL_SERVER_VERSION,
    builtAs: 'server',
    cacheSubdir: join('temporal-server', TEMPORAL_SERVER_VERSION),
  },
  'temporal-sql-tool': {
    pathVariable: 'TEMPORAL_SQL_TOOL_PATH',
    pkg: `${TEMPORAL_SERVER_MODULE}/cmd/tools/sql`,
    module: TEMPORAL_SERVER_MODULE,
    version: TEMPORAL_SERVER_VERSION,
    builtAs: 'sql',
    cacheSubdir: join('temporal-server', TEMPORAL_SERVER_VERSION),
  },
  'temporal-ui-server': {
    pathVariable: 'TEMPORAL_UI_SERVER_PATH',
    pkg: `${TEMPORAL_UI_SERVER_MODULE}/cmd/server`,
    module: TEMPORAL_UI_SERVER_MODULE,
    version: TEMPORAL_UI_SERVER_VERSION,
    builtAs: 'server',
    cacheSubdir: join('temporal-ui-server', TEMPORAL_UI_SERVER_VERSION),
  },
};

export type ToolSource = 'env' | 'path' | 'cache' | 'go-install';

export interface ResolvedTool {
  tool: ClusterTool;
  path: string;
  source: ToolSource;
  /** First line of `--version`, e.g. `temporal version 1.29.1`. */
  version: string;
  /** Set when this call built it. */
  buildMs?: number;
}

export class ClusterToolNotFoundError extends Error {
  override readonly name = 'ClusterToolNotFoundError';
}

export interface ResolveToolsOptions {
  /** @default process.env */
  env?: NodeJS.ProcessEnv;
  onProgress?: (line: string) => void;
}

export function cachedToolPath(tool: ClusterTool, env: NodeJS.ProcessEnv = process.env): string {
  return join(cacheDir(env), clusterTools[tool].cacheSubdir, tool);
}

/**
 * Finds the cluster's binaries, each in the same order as the Temporal CLI (src/devserver/temporal-cli.ts):
 * its variable (`TEMPORAL_SERVER_PATH`, `TEMPORAL_SQL_TOOL_PATH`, `TEMPORAL_UI_SERVER_PATH`); the binary of
 * that name on PATH; the copy cached by an earlier run in `~/.cache/durable-integrations/<name>/<version>/`;
 * then `go install` of the pinned version into that cache (the server and its SQL tool in one build). Throws
 * {@link ClusterToolNotFoundError} naming every way it tried when none works.
 */
export async function resolveClusterTools<T extends ClusterTool>(
  tools: readonly T[],
  options: ResolveToolsOptions = {},
): Promise<Record<T, ResolvedTool>> {
  const env = options.env ?? process.env;
  const progress = options.onProgress ?? (() => {});
  const found: Partial<Record<ClusterTool, ResolvedTool>> = {};
  const tried: Partial<Record<ClusterTool, string[]>> = {};
  const missing: ClusterTool[] = [];
  for (const tool of tools) {
    const result = await findExisting(tool, env);
    if ('path' in result) found[tool] = result;
    else {
      tried[tool] = result.tried;
      missing.push(tool);
    }
  }
  if (missing.length > 0) {
    const go = findGo(env);
    // One `go install` per module version: the server and its SQL tool share one build.
    const groups = new Map<string, ClusterTool[]>();
    for (const tool of missing) {
      const key = `${clusterTools[tool].module}@${clusterTools[tool].version}`;
      groups.set(key, [...(groups.get(key) ?? []), tool]);
    }
    for (const group of groups.values()) {
      const spec = clusterTools[group[0]!];
      if (!go) {
        for (const tool of group) tried[tool]!.push('go install: no `go` on PATH (nor /usr/local/go/bin/go)');
        continue;
      }
      try {
        const buildMs = await goInstall(
          go,
          spec.version,
          group.map((tool) => ({
            pkg: clusterTools[tool].pkg,
            builtAs: clusterTools[tool].builtAs,
            target: cachedToolPath(tool, env),
          })),
          env,
          progress,
          group.join(' and '),
        );
        for (const tool of group) {
          const path = cachedToolPath(tool, env);
          const version = await probeVersion(path);
          if (version) found[tool] = { tool, path, source: 'go-install', version, buildMs };
          else tried[tool]!.push(`go install: built ${path} but it does not run`);
        }
      } catch (err) {
        for (const tool of group)
          tried[tool]!.push(`go install ${clusterTools[tool].pkg}@${spec.version}: ${(err as Error).message}`);
      }
    }
  }
  const failed = tools.filter((t) => !found[t]);
  if (failed.length > 0) throw new ClusterToolNotFoundError(notFoundMessage(failed.map((t) => [t, tried[t] ?? []])));
  return found as Record<T, ResolvedTool>;
}

async function findExisting(tool: ClusterTool, env: NodeJS.ProcessEnv): Promise<ResolvedTool | { tried: string[] }> {
  const spec = clusterTools[tool];
  const tried: string[] = [];
  const explicit = env[spec.pathVariable];
  if (explicit) {
    const version = await probeVersion(explicit);
    if (version) return { tool, path: explicit, source: 'env', version };
    // An explicit path that does not work is a mistake to report, not to paper over.
    throw new ClusterToolNotFoundError(
      `${spec.pathVariable}=${explicit} is not a working ${tool} (running it with --version failed). ` +
        `Point it at a ${tool} binary, or unset it to let the project find or build one.`,
    );
  }
  tried.push(`${spec.pathVariable}: not set`);
  const onPath = findOnPath(tool, env);
  if (onPath) {
    const version = await probeVersion(onPath);
    if (version) return { tool, path: onPath, source: 'path', version };
    tried.push(`PATH: ${onPath} did not answer --version`);
  } else {
    tried.push(`PATH: no \`${tool}\` binary`);
  }
  const cached = cachedToolPath(tool, env);
  if (existsSync(cached)) {
    const version = await probeVersion(cached);
    if (version) return { tool, path: cached, source: 'cache', version };
    tried.push(`cache: ${cached} is broken (removed; it will be rebuilt)`);
    rmSync(cached, { force: true });
  } else {
    tried.push(`cache: nothing at ${cached}`);
  }
  return { tried };
}

function notFoundMessage(failed: [ClusterTool, string[]][]): string {
  const lines: string[] = [];
  for (const [tool, tried] of failed) {
    lines.push(`No ${tool} could be found or built. Tried, in order:`, ...tried.map((t) => `  - ${t}`));
  }
  lines.push(
    'To fix, do one of:',
    ...failed.map(
      ([tool]) => `  - set ${clusterTools[tool].pathVariable} to a ${tool} binary, or put \`${tool}\` on PATH;`,
    ),
    `  - install Go >= 1.24 with access to a Go module proxy, then run \`npm run cluster:install\` (builds them into ${cacheDir()}).`,
  );
  return lines.join('\n');
}
