import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SQL_PLUGIN, type ClusterDatabases, type PostgresTarget } from './schema';

/** The four server services, each run as its own process. */
export const clusterServices = ['frontend', 'history', 'matching', 'worker'] as const;
export type ClusterService = (typeof clusterServices)[number];

export interface ServicePorts {
  grpc: number;
  /** Ringpop membership (loopback). */
  membership: number;
  /** Prometheus metrics of this process. */
  metrics: number;
}

export interface ClusterPorts {
  frontend: ServicePorts & { http: number };
  history: ServicePorts;
  matching: ServicePorts;
  worker: ServicePorts;
  /** The Web UI server, when it runs. */
  ui?: number;
}

/** The frontend on TLS: a server certificate, and client certificates required when `clientCaFile` is set. */
export interface FrontendTls {
  certFile: string;
  keyFile: string;
  /** CA the frontend's certificate is signed by (the system worker and the UI trust it). */
  caFile: string;
  /** CA of the client certificates; set means a client without one is refused at the handshake. */
  clientCaFile?: string;
  /** Name the clients inside the cluster verify the frontend's certificate with. @default localhost */
  serverName?: string;
  /** The certificate the cluster's own system worker presents to the frontend (required with `clientCaFile`). */
  internalClient?: { certFile: string; keyFile: string };
}

export interface ServerConfigOptions {
  /** Where the config files are written (`<dir>/config/<service>.yaml`). */
  dir: string;
  postgres: PostgresTarget;
  databases: ClusterDatabases;
  ports: ClusterPorts;
  tls?: FrontendTls;
  /** History shards; fixed for the life of the databases. @default 4 */
  numHistoryShards?: number;
  /** Server log level. @default warn */
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
}

/**
 * Dynamic config of the cluster. Search attributes added at start are seen at once by every service (the
 * dev server does the same); the cost is a read on each use, nothing at this project's rates.
 */
/** History shards of the cluster (fixed for the life of its databases; docker-compose.yml uses the same). */
export const DEFAULT_HISTORY_SHARDS = 4;

export const clusterDynamicConfig: Record<string, unknown> = {
  'system.forceSearchAttributesCacheRefreshOnRead': true,
  'frontend.persistenceMaxQPS': 10_000,
  'history.persistenceMaxQPS': 45_000,
};

/**
 * The server's config for one service process, in the layout of the server module's own
 * `config/development-postgres12.yaml`: PostgreSQL persistence and SQL visibility in two databases,
 * loopback membership, each service with its own ports (the metrics port is per process, hence one file per
 * service: `temporal-server --env <service>` reads `config/<service>.yaml`).
 */
export function serverConfig(options: ServerConfigOptions, service: ClusterService): Record<string, unknown> {
  const { postgres, databases, ports, tls } = options;
  const sql = (databaseName: string, maxConns: number) => ({
    sql: {
      pluginName: SQL_PLUGIN,
      databaseName,
      connectAddr: `${postgres.host}:${postgres.port}`,
      connectProtocol: 'tcp',
      user: postgres.user,
      password: postgres.password ?? '',
      maxConns,
      maxIdleConns: maxConns,
      maxConnLifetime: '1h',
    },
  });
  const rpc = (p: ServicePorts, extra: Record<string, unknown> = {}) => ({
    rpc: { grpcPort: p.grpc, membershipPort: p.membership, bindOnLocalHost: true, ...extra },
  });
  const frontendAddress = `127.0.0.1:${ports.frontend.grpc}`;
  const serverName = tls?.serverName ?? 'localhost';
  return {
    log: { stdout: true, level: options.logLevel ?? 'warn', format: 'json' },
    persistence: {
      defaultStore: 'default',
      visibilityStore: 'visibility',
      numHistoryShards: options.numHistoryShards ?? DEFAULT_HISTORY_SHARDS,
      datastores: { default: sql(databases.default, 20), visibility: sql(databases.visibility, 4) },
    },
    global: {
      membership: { maxJoinDuration: '30s', broadcastAddress: '127.0.0.1' },
      metrics: {
        prometheus: {
          framework: 'tally',
          timerType: 'histogram',
          listenAddress: `127.0.0.1:${ports[service].metrics}`,
        },
      },
      ...(tls
        ? {
            tls: {
              frontend: {
                server: {
                  certFile: tls.certFile,
                  keyFile: tls.keyFile,
                  requireClientAuth: tls.clientCaFile !== undefined,
                  ...(tls.clientCaFile ? { clientCaFiles: [tls.clientCaFile] } : {}),
                },
                client: { serverName, rootCaFiles: [tls.caFile] },
              },
              systemWorker: {
                ...(tls.internalClient ?? {}),
                client: { serverName, rootCaFiles: [tls.caFile] },
              },
            },
          }
        : {}),
    },
    services: {
      frontend: rpc(ports.frontend, { httpPort: ports.frontend.http }),
      history: rpc(ports.history),
      matching: rpc(ports.matching),
      worker: rpc(ports.worker),
    },
    clusterMetadata: {
      enableGlobalNamespace: false,
      failoverVersionIncrement: 10,
      masterClusterName: 'active',
      currentClusterName: 'active',
      clusterInformation: {
        active: { enabled: true, initialFailoverVersion: 1, rpcName: 'frontend', rpcAddress: frontendAddress },
      },
    },
    dcRedirectionPolicy: { policy: 'noop' },
    // The system worker (a client of the frontend) and the SDK clients inside the server.
    publicClient: { hostPort: frontendAddress },
    dynamicConfigClient: { filepath: join(options.dir, 'config', 'dynamicconfig.yaml'), pollInterval: '10s' },
  };
}

/** The Web UI server's config (temporalio/ui-server), pointed at the frontend and the codec server. */
export function uiConfig(options: {
  port: number;
  frontend: string;
  namespace: string;
  codecEndpoint?: string;
  tls?: { caFile: string; certFile?: string; keyFile?: string; serverName?: string };
}): Record<string, unknown> {
  return {
    temporalGrpcAddress: options.frontend,
    host: '127.0.0.1',
    port: options.port,
    enableUi: true,
    defaultNamespace: options.namespace,
    showTemporalSystemNamespace: false,
    notifyOnNewVersion: false,
    refreshInterval: '1m',
    cors: { cookieInsecure: true, allowOrigins: [`http://127.0.0.1:${options.port}`] },
    ...(options.codecEndpoint ? { codec: { endpoint: options.codecEndpoint } } : {}),
    ...(options.tls
      ? {
          tls: {
            caFile: options.tls.caFile,
            certFile: options.tls.certFile ?? '',
            keyFile: options.tls.keyFile ?? '',
            serverName: options.tls.serverName ?? 'localhost',
            enableHostVerification: true,
          },
        }
      : {}),
  };
}

/**
 * YAML is a superset of JSON: the files are written as indented JSON, which every YAML parser (the server's
 * included) reads, with no YAML library in the project's dependencies.
 */
function writeYaml(path: string, value: unknown, header: string): void {
  writeFileSync(path, `# ${header}\n${JSON.stringify(value, null, 2)}\n`, { mode: 0o600 });
  chmodSync(path, 0o600); // the database password is in it
}

/** Writes `<dir>/config/<service>.yaml` for each service and the dynamic config; returns the config dir. */
export function writeServerConfig(options: ServerConfigOptions): string {
  const configDir = join(options.dir, 'config');
  mkdirSync(configDir, { recursive: true });
  for (const service of clusterServices) {
    writeYaml(
      join(configDir, `${service}.yaml`),
      serverConfig(options, service),
      `Temporal server config for the ${service} process; written by src/cluster/server-config.ts at each start.`,
    );
  }
  writeFileSync(join(configDir, 'dynamicconfig.yaml'), dynamicConfigYaml(), { mode: 0o600 });
  return configDir;
}

/**
 * The cluster's dynamic config file, in the server's format (each key a list of constrained values); the
 * same text is docker-compose.yml's `docker/temporal/dynamicconfig.yaml` (checked by its test).
 */
export function dynamicConfigYaml(): string {
  const dynamic = Object.fromEntries(
    Object.entries(clusterDynamicConfig).map(([key, value]) => [key, [{ value, constraints: {} }]]),
  );
  return `# Dynamic config of the Temporal cluster, generated from src/cluster/server-config.ts (clusterDynamicConfig).\n${JSON.stringify(dynamic, null, 2)}\n`;
}

export function writeUiConfig(dir: string, config: Record<string, unknown>): string {
  const configDir = join(dir, 'ui', 'config');
  mkdirSync(configDir, { recursive: true });
  writeYaml(
    join(configDir, 'development.yaml'),
    config,
    'Temporal Web UI server config (src/cluster/server-config.ts).',
  );
  return join(dir, 'ui');
}
