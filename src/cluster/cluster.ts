import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { isGrpcServiceError, type Connection } from '@temporalio/client';
import { Client as PgClient } from 'pg';
import { connectClient, type TemporalSettings } from '../temporal/connection';
import { resolveClusterTools, type ResolvedTool } from './binaries';
import { ensureNamespace } from './namespace';
import { assertPortFree, freeLowPorts, freePorts, isListening } from './ports';
import {
  clusterDatabases,
  DEFAULT_DATABASE_PREFIX,
  DEFAULT_POSTGRES,
  findSchemaDirs,
  setupSchemas,
  type ClusterDatabases,
  type PostgresTarget,
} from './schema';
import {
  clusterServices,
  uiConfig,
  writeServerConfig,
  writeUiConfig,
  type ClusterPorts,
  type ClusterService,
  type FrontendTls,
} from './server-config';
import { SupervisedProcess } from './supervisor';

export { clusterServices, type ClusterService } from './server-config';

export interface ClusterOptions {
  /** Where the config files and logs go. */
  dir: string;
  /** @default postgres://postgres@127.0.0.1:5432 */
  postgres?: PostgresTarget;
  /** The databases are `<prefix>` and `<prefix>_visibility`. @default durable_integrations_temporal */
  databasePrefix?: string;
  /** Registered at start with its retention and the project's search attributes. @default default */
  namespace?: string;
  /** @default {@link DEFAULT_RETENTION_DAYS} */
  retentionDays?: number;
  /** The frontend's gRPC port; must be free. @default a free one (printed) */
  frontendPort?: number;
  /** The Web UI server (temporalio/ui-server); `false`: none. @default false */
  ui?: false | { port?: number; codecEndpoint?: string };
  /** The frontend on TLS (and mTLS with `clientCaFile`). */
  tls?: FrontendTls;
  env?: NodeJS.ProcessEnv;
  onProgress?: (line: string) => void;
  /** @default 120 s */
  readyTimeoutMs?: number;
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
}

export interface ClusterTimings {
  /** Finding (or building) the binaries; `buildMs` when this start built them. */
  resolveMs: number;
  buildMs?: number;
  /** Databases created and migrated. */
  schemaMs: number;
  /** From spawning the four services to every one answering. */
  startMs: number;
  /** Namespace, retention and search attributes. */
  namespaceMs: number;
}

export interface Cluster {
  /** host:port of the frontend. */
  address: string;
  namespace: string;
  ports: ClusterPorts;
  uiUrl?: string;
  dir: string;
  databases: ClusterDatabases;
  tools: Record<'temporal-server' | 'temporal-sql-tool', ResolvedTool> & { 'temporal-ui-server'?: ResolvedTool };
  schemaVersions: Record<keyof ClusterDatabases, string>;
  timings: ClusterTimings;
  services: Record<ClusterService, SupervisedProcess>;
  ui?: SupervisedProcess;
  /** How this process (and a test) connects to the frontend as the cluster's operator. */
  adminSettings: TemporalSettings;
  /** Kills one service (SIGKILL by default: a crash). */
  kill(service: ClusterService, signal?: NodeJS.Signals): Promise<void>;
  /** Starts a stopped service again with the same config and ports; waits until it answers. */
  restart(service: ClusterService): Promise<void>;
  /** Waits until every service answers (after a restart). */
  waitReady(timeoutMs?: number): Promise<number>;
  /** Resident memory of each process, bytes. */
  rss(): Record<string, number | undefined>;
  /** Stops everything it started. */
  stop(): Promise<void>;
}

/**
 * The namespace retention `npm run cluster` and docker-compose.yml set: longer than any provider's webhook
 * redelivery horizon or idempotency-key retention, since a closed workflow's ID deduplicates only while kept.
 */
export const DEFAULT_RETENTION_DAYS = 14;

export class ClusterStartError extends Error {
  override readonly name = 'ClusterStartError';
}

/**
 * A Temporal cluster of four processes (frontend, history, matching, worker) on PostgreSQL, for `npm run
 * cluster` and the cluster tests: binaries found or built (src/cluster/binaries.ts), both databases created
 * and migrated (schema.ts), config written (server-config.ts), services started and waited for, namespace
 * registered with its retention and the project's search attributes (namespace.ts), optionally the Web UI.
 */
export async function startCluster(options: ClusterOptions): Promise<Cluster> {
  const progress = options.onProgress ?? (() => {});
  const env = options.env ?? process.env;
  const dir = resolve(options.dir);
  const namespace = options.namespace ?? 'default';
  const postgres = options.postgres ?? DEFAULT_POSTGRES;
  const databases = clusterDatabases(options.databasePrefix ?? DEFAULT_DATABASE_PREFIX);
  const readyTimeoutMs = options.readyTimeoutMs ?? 120_000;
  const lock = lockDatabases(databases);

  const started: SupervisedProcess[] = [];
  const stopAll = async () => {
    await Promise.all(started.map((p) => p.stop(5_000)));
  };
  try {
    // Explicit ports first: a taken one is an error naming it, before anything is built or started.
    if (options.frontendPort)
      await assertPortFree(options.frontendPort, 'Temporal cluster frontend', 'Choose another with --port');
    if (options.ui && options.ui.port)
      await assertPortFree(options.ui.port, 'Temporal Web UI', 'Choose another with --ui-port');

    let t = Date.now();
    const wanted = options.ui
      ? (['temporal-server', 'temporal-sql-tool', 'temporal-ui-server'] as const)
      : (['temporal-server', 'temporal-sql-tool'] as const);
    const tools = (await resolveClusterTools(wanted, { env, onProgress: progress })) as Cluster['tools'];
    const resolveMs = Date.now() - t;
    const buildMs = Object.values(tools).reduce((sum, tool) => sum + (tool?.buildMs ?? 0), 0) || undefined;

    t = Date.now();
    const schemas = await findSchemaDirs(env);
    const schemaVersions = await setupSchemas({
      sqlTool: tools['temporal-sql-tool'].path,
      postgres,
      databases,
      schemas,
      onProgress: progress,
    });
    // No process runs on these databases (the lock says so): membership rows left by a killed run are stale.
    await forgetMembers(postgres, databases.default);
    const schemaMs = Date.now() - t;

    const free = await freePorts(10);
    // Membership ports are stored in a smallint column: below 32768.
    const low = await freeLowPorts(4);
    const ports: ClusterPorts = {
      frontend: { grpc: options.frontendPort ?? free[0]!, membership: low[0]!, http: free[1]!, metrics: free[2]! },
      history: { grpc: free[3]!, membership: low[1]!, metrics: free[4]! },
      matching: { grpc: free[5]!, membership: low[2]!, metrics: free[6]! },
      worker: { grpc: free[7]!, membership: low[3]!, metrics: free[8]! },
      ui: options.ui ? (options.ui.port ?? free[9]!) : undefined,
    };
    mkdirSync(dir, { recursive: true });
    writeServerConfig({ dir, postgres, databases, ports, tls: options.tls, logLevel: options.logLevel });
    const address = `127.0.0.1:${ports.frontend.grpc}`;
    progress(
      `Ports: frontend ${ports.frontend.grpc} (http ${ports.frontend.http}), history ${ports.history.grpc}, matching ${ports.matching.grpc}, worker ${ports.worker.grpc}; ` +
        `membership ${clusterServices.map((s) => ports[s].membership).join('/')}; metrics ${clusterServices.map((s) => ports[s].metrics).join('/')}` +
        (ports.ui ? `; Web UI ${ports.ui}` : ''),
    );

    const services = Object.fromEntries(
      clusterServices.map((service) => [
        service,
        new SupervisedProcess({
          name: service,
          command: tools['temporal-server'].path,
          args: [
            '--root',
            dir,
            '--config',
            'config',
            '--env',
            service,
            '--allow-no-auth',
            'start',
            '--service',
            service,
          ],
          cwd: dir,
          env: { ...env },
          logFile: join(dir, 'logs', `${service}.log`),
        }),
      ]),
    ) as Record<ClusterService, SupervisedProcess>;

    const adminSettings: TemporalSettings = {
      address,
      namespace,
      tls: options.tls
        ? {
            caFile: options.tls.caFile,
            serverName: options.tls.serverName ?? 'localhost',
            certFile: options.tls.internalClient?.certFile,
            keyFile: options.tls.internalClient?.keyFile,
          }
        : undefined,
    };
    let admin: Connection | undefined;
    const adminConnection = async (deadline: number): Promise<Connection> => {
      for (;;) {
        for (const service of clusterServices)
          if (!services[service].running) throw new ClusterStartError(exitMessage(services[service], ports));
        try {
          admin ??= await connectClient(adminSettings, { connectTimeout: 2_000 });
          return admin;
        } catch (err) {
          if (Date.now() > deadline) throw err;
          await sleep(250);
        }
      }
    };

    /** Every service answers: its gRPC port, then the frontend, a history shard lookup, a matching call. */
    const waitReady = async (timeoutMs = readyTimeoutMs): Promise<number> => {
      const t0 = Date.now();
      const deadline = t0 + timeoutMs;
      for (const service of clusterServices) {
        // The worker service serves no gRPC: its membership (ringpop) port tells it is up.
        const port = service === 'worker' ? ports.worker.membership : ports[service].grpc;
        await until(`the ${service} service to listen on ${port}`, deadline, async () => {
          const p = services[service];
          if (!p.running) throw new ClusterStartError(exitMessage(p, ports));
          return isListening(port);
        });
      }
      const connection = await adminConnection(deadline);
      await until('the frontend, history and matching to answer', deadline, async () => {
        for (const service of clusterServices)
          if (!services[service].running) throw new ClusterStartError(exitMessage(services[service], ports));
        return probe(connection, namespace);
      });
      return Date.now() - t0;
    };

    t = Date.now();
    progress(
      `Starting the Temporal server ${tools['temporal-server'].version}: ${clusterServices.join(', ')} (one process each)`,
    );
    // The frontend first: on fresh databases the first process writes the cluster metadata record, and
    // four writing it at once fail. Registering the namespace needs only the frontend and persistence.
    const deadline = Date.now() + readyTimeoutMs;
    services.frontend.start();
    started.push(services.frontend);
    await until(`the frontend to listen on ${ports.frontend.grpc}`, deadline, async () => {
      if (!services.frontend.running) throw new ClusterStartError(exitMessage(services.frontend, ports));
      return isListening(ports.frontend.grpc);
    });
    for (const service of clusterServices.filter((s) => s !== 'frontend')) {
      services[service].start();
      started.push(services[service]);
    }
    const tn = Date.now();
    await ensureNamespace(await adminConnection(deadline), {
      namespace,
      retentionDays: options.retentionDays ?? DEFAULT_RETENTION_DAYS,
      onProgress: progress,
    });
    const namespaceMs = Date.now() - tn;
    await waitReady(Math.max(1_000, deadline - Date.now()));
    const startMs = Date.now() - t;

    let ui: SupervisedProcess | undefined;
    let uiUrl: string | undefined;
    if (options.ui && tools['temporal-ui-server'] && ports.ui) {
      const uiRoot = writeUiConfig(
        dir,
        uiConfig({
          port: ports.ui,
          frontend: address,
          namespace,
          codecEndpoint: options.ui.codecEndpoint,
          tls: options.tls
            ? {
                caFile: options.tls.caFile,
                certFile: options.tls.internalClient?.certFile,
                keyFile: options.tls.internalClient?.keyFile,
                serverName: options.tls.serverName,
              }
            : undefined,
        }),
      );
      ui = new SupervisedProcess({
        name: 'ui',
        command: tools['temporal-ui-server'].path,
        args: ['--root', uiRoot, '--config', 'config', '--env', 'development', 'start'],
        cwd: uiRoot,
        env: { ...env },
        logFile: join(dir, 'logs', 'ui.log'),
      });
      ui.start();
      started.push(ui);
      const uiPort = ports.ui;
      await until(`the Web UI to listen on ${uiPort}`, Date.now() + 30_000, async () => {
        if (!ui!.running) throw new ClusterStartError(exitMessage(ui!, ports));
        return isListening(uiPort);
      });
      uiUrl = `http://127.0.0.1:${uiPort}`;
    }

    return {
      address,
      namespace,
      ports,
      uiUrl,
      dir,
      databases,
      tools,
      schemaVersions,
      timings: { resolveMs, buildMs, schemaMs, startMs, namespaceMs },
      services,
      ui,
      adminSettings,
      kill: (service, signal = 'SIGKILL') => services[service].kill(signal),
      async restart(service) {
        if (!services[service].running) services[service].start();
        await waitReady();
      },
      waitReady,
      rss: () => Object.fromEntries(started.map((p) => [p.spec.name, p.rssBytes()])),
      async stop() {
        await admin?.close().catch(() => undefined);
        await stopAll();
        lock.release();
      },
    };
  } catch (err) {
    await stopAll();
    lock.release();
    throw err;
  }
}

/**
 * One history shard lookup per probe ID (an unknown workflow: NOT_FOUND is history answering) and one matching
 * call. Sixteen IDs spread over the shards, so a shard still being acquired after a restart keeps it unready.
 */
async function probe(connection: Connection, namespace: string): Promise<boolean> {
  try {
    await connection.withDeadline(Date.now() + 5_000, async () => {
      await connection.workflowService.describeTaskQueue({
        namespace,
        taskQueue: { name: 'cluster-readiness-probe' },
        taskQueueType: 1, // WORKFLOW
      });
      await Promise.all(
        Array.from({ length: 16 }, (_, i) =>
          connection.workflowService
            .describeWorkflowExecution({ namespace, execution: { workflowId: `cluster-readiness-probe-${i}` } })
            .catch((err: unknown) => {
              if (isGrpcServiceError(err) && Number(err.code) === 5) return; // NOT_FOUND: the shard answered
              throw err;
            }),
        ),
      );
    });
    return true;
  } catch {
    return false;
  }
}

function exitMessage(p: SupervisedProcess, ports: ClusterPorts): string {
  const lines = p.lastLines();
  const text = lines.join('\n');
  const inUse = /(\d{2,5})[^\n]*address already in use|address already in use[^\n]*?:(\d{2,5})/.exec(text);
  if (inUse) {
    const port = inUse[1] ?? inUse[2];
    const role = Object.entries(ports).find(([, v]) =>
      typeof v === 'number'
        ? String(v) === port
        : Object.values(v as object)
            .map(String)
            .includes(port!),
    );
    return `The ${p.spec.name} service could not start: port ${port}${role ? ` (${role[0]})` : ''} is already in use by another process (find it with: ss -ltnp 'sport = :${port}'). Log: ${p.spec.logFile}`;
  }
  return `The ${p.spec.name} service exited before it was ready; last lines of ${p.spec.logFile}:\n${lines.slice(-6).map(logLine).join('\n')}`;
}

/** A server log line without its stack trace: `level msg: error`. */
function logLine(line: string): string {
  if (!line.startsWith('{')) return line.slice(0, 400);
  try {
    const { level, msg, error } = JSON.parse(line) as { level?: string; msg?: string; error?: string };
    return `${level}: ${msg}${error ? `: ${error}` : ''}`.slice(0, 400);
  } catch {
    return line.slice(0, 400);
  }
}

async function until(what: string, deadline: number, check: () => Promise<boolean>): Promise<void> {
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new ClusterStartError(`Timed out waiting for ${what}`);
    await sleep(200);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Clears the membership table of databases no process runs on (the lock guarantees it). */
async function forgetMembers(pg: PostgresTarget, database: string): Promise<void> {
  const client = new PgClient({ host: pg.host, port: pg.port, user: pg.user, password: pg.password, database });
  await client.connect();
  try {
    await client.query('DELETE FROM cluster_membership');
  } finally {
    await client.end();
  }
}

/**
 * One cluster per pair of databases: two would join one membership ring with different configs. A lock file
 * with the owner's pid; a lock whose owner is gone is taken over.
 */
function lockDatabases(databases: ClusterDatabases): { release(): void } {
  const file = join(tmpdir(), `durable-integrations-cluster-${databases.default}.lock`);
  if (existsSync(file)) {
    const pid = Number(readFileSync(file, 'utf8').trim());
    if (pid && pid !== process.pid && alive(pid)) {
      throw new ClusterStartError(
        `A cluster on the databases ${databases.default} and ${databases.visibility} is already running (pid ${pid}): stop it, or start this one with other databases (--db-prefix)`,
      );
    }
  }
  writeFileSync(file, String(process.pid));
  return {
    release() {
      try {
        if (readFileSync(file, 'utf8').trim() === String(process.pid)) rmSync(file, { force: true });
      } catch {
        // already gone
      }
    },
  };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
