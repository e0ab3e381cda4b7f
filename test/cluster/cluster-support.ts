import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { isGrpcServiceError } from '@temporalio/client';
import { IntegrationsClient } from '../../src/client';
import { startCluster, type Cluster, type ClusterOptions } from '../../src/cluster/cluster';
import { DEFAULT_POSTGRES, dropDatabases, listDatabases } from '../../src/cluster/schema';
import { startService, type ServiceProcess } from '../../src/devserver/service-process';
import { TMP_DIR } from '../support/stack';
import { sandboxAdmin } from '../support/sandbox';

/**
 * A cluster of this test run's own: databases `durable_integrations_ct_<pid>_<n>` (+ `_visibility`), dropped
 * afterwards, and a namespace of its own, so nothing is shared with another run, `npm run cluster` or anyone's
 * databases. Databases a killed earlier run left behind (its pid gone) are dropped first: only names with
 * this prefix, which only these tests make.
 */
const PREFIX = 'durable_integrations_ct_';
let counter = 0;

export interface TestCluster extends Cluster {
  dispose(): Promise<void>;
}

export async function startTestCluster(name: string, options: Partial<ClusterOptions> = {}): Promise<TestCluster> {
  await dropStaleDatabases();
  const n = ++counter;
  const prefix = `${PREFIX}${process.pid}_${n}`;
  const cluster = await startCluster({
    dir: join(TMP_DIR, `cluster-${process.pid}-${n}-${name}`),
    databasePrefix: prefix,
    namespace: `${name}-${Date.now().toString(36)}`,
    ...options,
    onProgress: (line) => {
      if (/Building|Built|\.\.\./.test(line)) console.log(line);
    },
  });
  return Object.assign(cluster, {
    async dispose() {
      await cluster.stop();
      await dropDatabases(DEFAULT_POSTGRES, cluster.databases);
      // Its config and the server logs; CLUSTER_TEST_KEEP=1 keeps them to look at a failure.
      if (!process.env.CLUSTER_TEST_KEEP) rmSync(cluster.dir, { recursive: true, force: true });
    },
  });
}

async function dropStaleDatabases(): Promise<void> {
  for (const db of await listDatabases(DEFAULT_POSTGRES, PREFIX)) {
    const match = /^durable_integrations_ct_(\d+)_\d+$/.exec(db);
    if (!match) continue;
    const pid = Number(match[1]);
    if (pid === process.pid || alive(pid)) continue;
    await dropDatabases(DEFAULT_POSTGRES, { default: db, visibility: `${db}_visibility` });
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A real worker process (src/workers/main.ts) against the cluster, with the sandbox's variables from the global setup. */
export function clusterWorker(cluster: Cluster, name: string, env: NodeJS.ProcessEnv = {}): ServiceProcess {
  return startService({
    name,
    entry: 'src/workers/main.ts',
    env: {
      ...process.env,
      TEMPORAL_ADDRESS: cluster.address,
      TEMPORAL_NAMESPACE: cluster.namespace,
      LOG_LEVEL: 'info',
      ...env,
    },
    logFile: join(TMP_DIR, 'logs', `${name}-${process.pid}.log`),
    readyEvent: 'worker.ready',
    readyTimeoutMs: 180_000,
  });
}

/** A test cluster with worker processes polling it (as production runs them) and a client of its namespace. */
export interface ClusterWithWorkers {
  cluster: TestCluster;
  workers: ServiceProcess[];
  client: IntegrationsClient;
  /** Closes the client, stops the workers, sets the sandbox back and drops the cluster. */
  dispose(): Promise<void>;
}

/**
 * `startTestCluster(name)` and two worker processes (`<name>-worker-a`, `-b`), ready. On a fresh machine the
 * first start builds the server (go install, minutes): src/cluster/binaries.ts.
 */
export async function startClusterWithWorkers(name: string): Promise<ClusterWithWorkers> {
  const cluster = await startTestCluster(name);
  const workers = [clusterWorker(cluster, `${name}-worker-a`), clusterWorker(cluster, `${name}-worker-b`)];
  await Promise.all(workers.map((w) => w.ready));
  const client = await IntegrationsClient.connect({
    address: cluster.address,
    namespace: cluster.namespace,
    security: null,
  });
  return {
    cluster,
    workers,
    client,
    async dispose() {
      await client.close();
      await Promise.all(workers.map((w) => w.stop()));
      await sandboxAdmin.clearFaults();
      await sandboxAdmin.config({ jobMs: 1500 });
      await cluster.dispose();
    },
  };
}

/** What an order's steps did at the providers: ledger entries keyed `order-<orderId>:<step>`, counted by effect. */
export async function orderEffects(orderId: string): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const e of await sandboxAdmin.ledger()) {
    if (!e.idempotencyKey?.startsWith(`order-${orderId}:`)) continue;
    counts[e.effect] = (counts[e.effect] ?? 0) + 1;
  }
  return counts;
}

/** The effects of an order that completed: one charge, one invoice, one email, the CRM note and its "invoiced" mark. */
export const completedOrderEffects = {
  'payment.created': 1,
  'document.generated': 1,
  'email.sent': 1,
  'customer.updated': 2,
};

/** Retries `fn` while the server is unreachable (a fault in progress), up to `timeoutMs`. */
export async function whileUnavailable<T>(fn: () => Promise<T>, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      const retryable =
        (isGrpcServiceError(err) && [4, 8, 13, 14].includes(Number(err.code))) ||
        /unavailable|deadline|connect|ECONNREFUSED/i.test(String(err));
      if (!retryable || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}
