import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IntegrationsClient } from '../../src/client';
import type { ServiceProcess } from '../../src/devserver/service-process';
import { generateTlsMaterial, writeTlsMaterial, type TlsFiles, type TlsMaterial } from '../../src/sandbox/tls';
import { connectClient, connectWorker, type TemporalSettings } from '../../src/temporal/connection';
import { uniqueId } from '../support/temporal';
import {
  clusterWorker,
  completedOrderEffects,
  orderEffects,
  startTestCluster,
  type TestCluster,
} from './cluster-support';

/**
 * The cluster's frontend on TLS, client certificates required (a throwaway CA from src/sandbox/tls.ts signs the
 * server's certificate and the clients'), reached through the one connection module (src/temporal/connection.ts)
 * from its variables, as every process of the project reaches Temporal.
 */

let dir: string;
let files: TlsFiles;
let stranger: TlsMaterial;
let cluster: TestCluster;
const workers: ServiceProcess[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cluster-mtls-'));
  const [material, other] = await Promise.all([generateTlsMaterial(), generateTlsMaterial()]);
  stranger = other;
  files = await writeTlsMaterial(join(dir, 'certs'), material);
  cluster = await startTestCluster('mtls', {
    tls: {
      certFile: files.serverCert,
      keyFile: files.serverKey,
      caFile: files.ca,
      clientCaFile: files.ca,
      internalClient: { certFile: files.clientCert, keyFile: files.clientKey },
    },
  });
  // On a fresh machine the first start builds the server (go install, minutes): src/cluster/binaries.ts.
}, 600_000);

afterAll(async () => {
  await Promise.all(workers.map((w) => w.stop()));
  await cluster?.dispose();
  if (dir) await rm(dir, { recursive: true, force: true });
}, 60_000);

const tlsEnv = (withCertificate: boolean): NodeJS.ProcessEnv => ({
  TEMPORAL_TLS_CA_FILE: files.ca,
  ...(withCertificate ? { TEMPORAL_TLS_CERT_FILE: files.clientCert, TEMPORAL_TLS_KEY_FILE: files.clientKey } : {}),
});

const settings = (tls: TemporalSettings['tls']): TemporalSettings => ({
  address: cluster.address,
  namespace: cluster.namespace,
  tls,
});

describe('a worker process on a cluster whose frontend requires client certificates', () => {
  it('without a certificate is refused at start, with an error that says so and names the variables', async () => {
    const worker = clusterWorker(cluster, 'mtls-worker-no-cert', tlsEnv(false));
    const error = await worker.ready.then(
      () => new Error('the worker started'),
      (err: Error) => err,
    );
    await worker.stop();
    expect(error.message).toContain(`Cannot connect to Temporal at ${cluster.address}`);
    expect(error.message).toContain('no client certificate');
    expect(error.message).toContain('CERTIFICATE_REQUIRED');
    expect(error.message).toContain(
      'The server refused the TLS handshake: it requires a client certificate (mTLS): set TEMPORAL_TLS_CERT_FILE and TEMPORAL_TLS_KEY_FILE',
    );
  }, 60_000);

  it('with one, runs an order to completion (client over mTLS too), each effect once', async () => {
    const worker = clusterWorker(cluster, 'mtls-worker', tlsEnv(true));
    workers.push(worker);
    await worker.ready;
    const client = await IntegrationsClient.connect({
      address: cluster.address,
      namespace: cluster.namespace,
      security: { tls: { caFile: files.ca, certFile: files.clientCert, keyFile: files.clientKey } },
    });
    try {
      const orderId = uniqueId('mtls-order');
      const { charge } = await client.startOrder({ orderId, customerId: 'cus_0011', amount: 7100, currency: 'EUR' });
      expect(charge.charged).toBe(true);
      expect((await client.orderResult(orderId)).stage).toBe('completed');
      expect(await orderEffects(orderId)).toEqual(completedOrderEffects);
    } finally {
      await client.close();
    }
  }, 180_000);
});

describe('the connection module against the mTLS frontend', () => {
  it('a plaintext connection is told the server speaks TLS', async () => {
    await expect(connectWorker(settings(undefined))).rejects.toThrow(
      /the server speaks TLS, this connection does not.*set TEMPORAL_TLS_CA_FILE/s,
    );
  }, 30_000);

  it('a certificate from another CA is refused, as is trusting another CA', async () => {
    const other = join(dir, 'stranger');
    const strangerFiles = await writeTlsMaterial(other, stranger);
    await expect(
      connectClient(
        settings({ caFile: files.ca, certFile: strangerFiles.clientCert, keyFile: strangerFiles.clientKey }),
        {
          connectTimeout: 3_000,
        },
      ),
    ).rejects.toThrow(/Cannot connect to Temporal.*TLS/s);
    await expect(
      connectClient(settings({ caFile: strangerFiles.ca, certFile: files.clientCert, keyFile: files.clientKey }), {
        connectTimeout: 3_000,
      }),
    ).rejects.toThrow(/The TLS handshake failed: check that TEMPORAL_TLS_CA_FILE signed the server certificate/);
  }, 30_000);

  it('reads the certificate files at each connect: a rotated pair is used by the next connection', async () => {
    const certFile = join(dir, 'rotating-cert.pem');
    const keyFile = join(dir, 'rotating-key.pem');
    const rotating = settings({ caFile: files.ca, certFile, keyFile });
    // A pair from another CA first: refused.
    await writeFile(certFile, stranger.client.cert);
    await writeFile(keyFile, stranger.client.key, { mode: 0o600 });
    await expect(connectClient(rotating, { connectTimeout: 3_000 })).rejects.toThrow(/Cannot connect/);
    // Rotated to a pair the cluster trusts: the next connection goes through, no restart, same settings.
    await writeFile(certFile, await readText(files.clientCert));
    await writeFile(keyFile, await readText(files.clientKey), { mode: 0o600 });
    const connection = await connectClient(rotating, { connectTimeout: 5_000 });
    try {
      const info = await connection.workflowService.describeNamespace({ namespace: cluster.namespace });
      expect(info.namespaceInfo?.name).toBe(cluster.namespace);
    } finally {
      await connection.close();
    }
  }, 30_000);
});

const readText = (path: string) => readFile(path, 'utf8');
