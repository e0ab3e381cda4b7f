import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCluster } from '../../src/cluster/cluster';
import { freeLowPorts, PortInUseError } from '../../src/cluster/ports';
import { startDevServer } from '../../src/devserver/dev-server';

/** A port already taken is an error naming it, never a silent success against whatever holds it. */

let holder: Server;
let held: number;

beforeAll(async () => {
  holder = createServer();
  await new Promise<void>((resolve) => holder.listen({ port: 0, host: '127.0.0.1' }, resolve));
  held = (holder.address() as { port: number }).port;
});

afterAll(() => new Promise((resolve) => holder.close(resolve)));

it('the dev server refuses a taken gRPC port, naming it and TEMPORAL_DEV_PORT', async () => {
  const error = await startDevServer({ port: held }).then(
    () => new Error('it started'),
    (err: Error) => err,
  );
  expect(error).toBeInstanceOf(PortInUseError);
  expect(error.message).toContain(`Port ${held} on 127.0.0.1 (Temporal dev server gRPC frontend) is already in use`);
  expect(error.message).toContain('Set TEMPORAL_DEV_PORT to a free port');
});

it('the dev server refuses a taken Web UI port, naming it and TEMPORAL_UI_PORT', async () => {
  await expect(startDevServer({ port: 0, uiPort: held })).rejects.toThrow(
    new RegExp(`Port ${held} on 127.0.0.1 \\(Temporal dev server Web UI\\) is already in use.*TEMPORAL_UI_PORT`),
  );
});

it('the cluster refuses a taken frontend port before building or starting anything', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cluster-port-'));
  try {
    await expect(
      startCluster({ dir, frontendPort: held, databasePrefix: `durable_integrations_ct_${process.pid}_port` }),
    ).rejects.toThrow(
      new RegExp(`Port ${held} on 127.0.0.1 \\(Temporal cluster frontend\\) is already in use.*--port`),
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

it('membership ports fit the smallint column the server stores them in', async () => {
  const ports = await freeLowPorts(8);
  expect(new Set(ports).size).toBe(8);
  for (const p of ports) expect(p).toBeLessThan(32_768);
});
