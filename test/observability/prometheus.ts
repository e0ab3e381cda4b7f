import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensurePrometheus } from '../../scripts/ensure-prometheus';
import { waitFor } from '../support/wait';

/**
 * A real Prometheus (Debian's package, installed by scripts/ensure-prometheus.ts when missing) on a free
 * loopback port with a data directory of its own in /tmp, scraping the given targets every second and
 * evaluating the given rule files every second. Never the package's service on :9090.
 */
export interface PrometheusServer {
  url: string;
  /** An instant query: the result vector. */
  query(expr: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]>;
  /** Active alerts (pending or firing). */
  alerts(): Promise<{ labels: Record<string, string>; state: 'pending' | 'firing'; activeAt: string; value: string }[]>;
  /** Scrape targets and their health. */
  targets(): Promise<{ scrapeUrl: string; health: string; lastError: string }[]>;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

async function api<T>(base: string, path: string): Promise<T> {
  const response = await fetch(`${base}${path}`, { signal: AbortSignal.timeout(5_000) });
  const body = (await response.json()) as { status: string; data: T; error?: string };
  if (body.status !== 'success') throw new Error(`prometheus ${path}: ${body.error ?? response.status}`);
  return body.data;
}

export async function startPrometheus(options: {
  /** Scrape targets as URLs, e.g. `http://127.0.0.1:4321/metrics`. */
  targets: string[];
  /** Rule files (absolute paths) to evaluate. */
  ruleFiles: string[];
  logFile: string;
}): Promise<PrometheusServer> {
  const { prometheus } = ensurePrometheus();
  const dir = mkdtempSync(join(tmpdir(), 'di-prometheus-'));
  const port = await freePort();
  const jobs = options.targets.map((target, n) => {
    const url = new URL(target);
    return [
      `  - job_name: target-${n}`,
      `    metrics_path: ${url.pathname}`,
      `    static_configs:`,
      `      - targets: ['${url.host}']`,
    ].join('\n');
  });
  const config = [
    'global:',
    '  scrape_interval: 1s',
    '  scrape_timeout: 1s',
    '  evaluation_interval: 1s',
    'rule_files:',
    ...options.ruleFiles.map((f) => `  - '${f}'`),
    'scrape_configs:',
    ...jobs,
    '',
  ].join('\n');
  writeFileSync(join(dir, 'prometheus.yml'), config);
  const url = `http://127.0.0.1:${port}`;
  const log = createWriteStream(options.logFile);
  const child: ChildProcess = spawn(
    prometheus,
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--web.enable-lifecycle',
      // Debian's default console paths do not exist outside /etc/prometheus: none needed.
      `--web.console.templates=${dir}`,
      `--web.console.libraries=${dir}`,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let dead = false;
  void exited.then(() => (dead = true));
  const stop = async () => {
    if (!dead) {
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      if (!dead) child.kill('SIGKILL');
    }
    log.end();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(
      'prometheus to be ready',
      async () => {
        if (dead) throw new Error(`prometheus exited before it was ready; see ${options.logFile}`);
        return fetch(`${url}/-/ready`).then(
          (r) => r.ok,
          () => false,
        );
      },
      60_000,
      200,
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    url,
    query: async (expr) =>
      (
        await api<{ result: { metric: Record<string, string>; value: [number, string] }[] }>(
          url,
          `/api/v1/query?query=${encodeURIComponent(expr)}`,
        )
      ).result,
    alerts: async () =>
      (await api<{ alerts: Awaited<ReturnType<PrometheusServer['alerts']>> }>(url, '/api/v1/alerts')).alerts,
    targets: async () =>
      (await api<{ activeTargets: Awaited<ReturnType<PrometheusServer['targets']>> }>(url, '/api/v1/targets'))
        .activeTargets,
    stop,
  };
}
