import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** Where Go is when it is not on PATH (the official tarball's place; .ci/run adds it the same way). */
const GO_FALLBACKS = ['/usr/local/go/bin/go'];

export function findOnPath(name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}

/** The `go` binary: on PATH, else where the official install puts it. */
export function findGo(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return findOnPath('go', env) ?? GO_FALLBACKS.find((p) => existsSync(p));
}

/** First line of `<binary> --version`, or undefined when it does not run. */
export async function probeVersion(path: string): Promise<string | undefined> {
  try {
    const { stdout, stderr } = await execFileAsync(path, ['--version'], { timeout: 15_000 });
    return (stdout || stderr).split('\n')[0]?.trim() || undefined;
  } catch {
    return undefined;
  }
}

/**
 * The directory of `module@version` in the Go module cache (`go env GOMODCACHE`), downloading it through
 * the module proxy when it is not there yet (`go mod download`).
 */
export async function goModuleDir(
  go: string,
  module: string,
  version: string,
  env: NodeJS.ProcessEnv,
): Promise<string> {
  const { stdout } = await execFileAsync(go, ['env', 'GOMODCACHE'], { env, timeout: 30_000 });
  const dir = join(stdout.trim(), `${module.toLowerCase()}@${version}`);
  if (existsSync(dir)) return dir;
  const downloaded = await execFileAsync(go, ['mod', 'download', '-json', `${module}@${version}`], {
    env,
    timeout: 600_000,
    cwd: stdout.trim() || undefined,
  });
  const parsed = JSON.parse(downloaded.stdout) as { Dir?: string; Error?: string };
  if (!parsed.Dir) throw new Error(`go mod download ${module}@${version}: ${parsed.Error ?? 'no directory'}`);
  return parsed.Dir;
}

export interface GoInstallTarget {
  /** Package path, e.g. `go.temporal.io/server/cmd/server`. */
  pkg: string;
  /** The name `go install` gives the binary (the package's last path element). */
  builtAs: string;
  /** Where the binary goes (its directory is created). */
  target: string;
}

/**
 * `go install pkg@version ...` into a scratch GOBIN next to the targets, then renamed into place, so an
 * interrupted build never leaves a half-written binary where the next run would trust it. Prints a progress
 * line every 15 s (the first build takes minutes).
 */
export async function goInstall(
  go: string,
  version: string,
  targets: GoInstallTarget[],
  env: NodeJS.ProcessEnv,
  progress: (line: string) => void,
  what: string,
): Promise<number> {
  const base = join(targets[0]!.target, '..', '..');
  mkdirSync(base, { recursive: true });
  const scratch = mkdtempSync(join(base, '.build-'));
  const started = Date.now();
  progress(`Building ${what} ${version} with \`go install\` (first run only; takes a few minutes)`);
  let downloads = 0;
  let compiled = 0;
  const ticker = setInterval(() => {
    const secs = Math.round((Date.now() - started) / 1000);
    progress(`  ... ${secs}s: ${downloads} modules downloaded, ${compiled} packages compiled`);
  }, 15_000);
  try {
    await new Promise<void>((resolve, reject) => {
      const child = spawn(go, ['install', '-v', ...targets.map((t) => `${t.pkg}@${version}`)], {
        env: { ...env, GOBIN: scratch },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let tail = '';
      child.stderr.setEncoding('utf8');
      child.stderr.on('data', (chunk: string) => {
        for (const line of chunk.split('\n')) {
          if (line.startsWith('go: downloading')) downloads++;
          else if (line.trim()) compiled++;
        }
        tail = (tail + chunk).slice(-2000);
      });
      child.on('error', reject);
      child.on('exit', (code) =>
        code === 0
          ? resolve()
          : reject(new Error(`exited with ${code}: ${tail.trim().split('\n').slice(-5).join(' | ')}`)),
      );
    });
    for (const t of targets) {
      mkdirSync(join(t.target, '..'), { recursive: true });
      renameSync(join(scratch, t.builtAs), t.target);
    }
    const ms = Date.now() - started;
    progress(`Built ${targets.map((t) => t.target).join(', ')} in ${Math.round(ms / 1000)}s`);
    return ms;
  } finally {
    clearInterval(ticker);
    rmSync(scratch, { recursive: true, force: true });
  }
}
