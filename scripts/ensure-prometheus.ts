import { execFileSync, spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, rmSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { aptInstall } from './debian-package';

/**
 * Prometheus and promtool for the tests (and anyone who wants to scrape a local worker): found on PATH
 * (or `PROMETHEUS_PATH` / `PROMTOOL_PATH`), else installed from Debian's `prometheus` package (2.42 on
 * bookworm, with promtool) with `apt-get`, which needs root.
 *
 * The package would also start its own service on :9090 scraping nothing of ours: the install runs with
 * a `policy-rc.d` that forbids starting services (the Debian way, honoured by invoke-rc.d and
 * deb-systemd-invoke), and a service started anyway is stopped and disabled. Our Prometheus runs on a
 * port and data directory of its own, started by whoever needs it (test/observability/prometheus.ts).
 *
 * `npm run prometheus:install` runs just this.
 */
export interface PrometheusBinaries {
  prometheus: string;
  promtool: string;
  /** e.g. `2.42.0+ds` */
  version: string;
  /** How it was found: `env`, `path` or `apt-get` (installed now). */
  source: 'env' | 'path' | 'apt-get';
}

export class PrometheusUnavailableError extends Error {
  override readonly name = 'PrometheusUnavailableError';
}

const policyRcd = '/usr/sbin/policy-rc.d';

function onPath(name: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

function versionOf(binary: string): string {
  const out = execFileSync(binary, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return /version (\S+)/.exec(out)?.[1] ?? 'unknown';
}

function find(env: NodeJS.ProcessEnv): PrometheusBinaries | undefined {
  if (env.PROMETHEUS_PATH && env.PROMTOOL_PATH) {
    const prometheus = env.PROMETHEUS_PATH;
    return { prometheus, promtool: env.PROMTOOL_PATH, version: versionOf(prometheus), source: 'env' };
  }
  const prometheus = onPath('prometheus', env);
  const promtool = onPath('promtool', env);
  if (prometheus && promtool) return { prometheus, promtool, version: versionOf(prometheus), source: 'path' };
  return undefined;
}

function run(
  command: string,
  args: string[],
  log: (line: string) => void,
): { ok: boolean; status: number | null; output: string } {
  log(`$ ${command} ${args.join(' ')}`);
  const result = spawnSync(command, args, {
    encoding: 'utf8',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    timeout: 600_000,
  });
  const output = `${result.stdout ?? ''}${result.stderr ?? ''}${result.error ? String(result.error) : ''}`;
  return { ok: result.status === 0, status: result.status, output };
}

/** Stops and disables the package's own service, if something started it (no-op where it is not running). */
function stopPackageService(log: (line: string) => void): void {
  if (existsSync('/run/systemd/system') && onPath('systemctl', process.env)) {
    run('systemctl', ['disable', '--now', 'prometheus.service'], log);
  } else if (existsSync('/etc/init.d/prometheus')) {
    run('/etc/init.d/prometheus', ['stop'], log);
  }
}

function install(log: (line: string) => void, isRoot: boolean, hasApt: boolean): void {
  // Forbid service starts during the install: the package's daemon would take :9090 for nothing.
  const ownPolicy = isRoot && hasApt && !existsSync(policyRcd);
  if (ownPolicy)
    writeFileSync(
      policyRcd,
      '#!/bin/sh\n# durable-integrations: no service starts while installing prometheus\nexit 101\n',
      { mode: 0o755 },
    );
  try {
    aptInstall({
      pkg: 'prometheus',
      flags: ['--no-install-recommends'],
      otherwise: 'or set PROMETHEUS_PATH and PROMTOOL_PATH',
      fail: (message) => new PrometheusUnavailableError(`prometheus/promtool are not on PATH. ${message}`),
      onProgress: log,
      run: (command, args) => run(command, args, log),
      isRoot,
      hasApt,
    });
  } finally {
    if (ownPolicy) rmSync(policyRcd, { force: true });
  }
  stopPackageService(log);
}

/** Finds prometheus and promtool, installing Debian's package when they are missing (root only). */
export function ensurePrometheus(
  options: {
    env?: NodeJS.ProcessEnv;
    log?: (line: string) => void;
    /** @default whether this process runs as root */
    isRoot?: boolean;
    /** @default whether this is Linux with apt-get on PATH */
    hasApt?: boolean;
  } = {},
): PrometheusBinaries {
  const env = options.env ?? process.env;
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const found = find(env);
  if (found) return found;
  log('prometheus/promtool not found: installing Debian’s prometheus package');
  install(
    log,
    options.isRoot ?? process.getuid?.() === 0,
    options.hasApt ?? (process.platform === 'linux' && onPath('apt-get', env) !== undefined),
  );
  const installed = find({ ...env, PATH: `${env.PATH ?? ''}${delimiter}/usr/bin` });
  if (!installed)
    throw new PrometheusUnavailableError('apt-get installed prometheus but prometheus/promtool are still not on PATH');
  return { ...installed, source: 'apt-get' };
}

if (require.main === module) {
  try {
    const found = ensurePrometheus();
    process.stdout.write(`prometheus ${found.version} [${found.source}]: ${found.prometheus}, ${found.promtool}\n`);
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(1);
  }
}
