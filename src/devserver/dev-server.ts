import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { assertPortFree } from '../cluster/ports';
import { customSearchAttributes } from '../contracts/search-attributes';
import { TemporalCliNotFoundError, resolveTemporalCli, type CliSource } from './temporal-cli';

export interface DevServerOptions {
  /** SQLite file that keeps histories across restarts; in-memory when unset (tests). */
  dbFilename?: string;
  /** gRPC port; a free one when unset. */
  port?: number;
  /** Web UI port; no UI when unset. */
  uiPort?: number;
  /** A codec server's URL the Web UI sends encrypted payloads to for display (`--ui-codec-endpoint`). */
  uiCodecEndpoint?: string;
  namespace?: string;
  env?: NodeJS.ProcessEnv;
  onProgress?: (line: string) => void;
}

export interface DevServer {
  env: TestWorkflowEnvironment;
  /** host:port of the frontend. */
  address: string;
  uiUrl?: string;
  /** Where the binary came from and its version line. */
  cli: { source: CliSource | 'sdk-download'; version: string; path?: string };
  stop(): Promise<void>;
}

/**
 * Starts the Temporal CLI dev server: one module for `npm start`, the test setup and benchmarks.
 * The binary comes from {@link resolveTemporalCli}; when that finds nothing, the SDK's own cached
 * download is tried last (it needs internet), and if that fails too, the error names every way.
 */
export async function startDevServer(options: DevServerOptions = {}): Promise<DevServer> {
  // A port already taken is an error naming it: otherwise the SDK would report the server as started and
  // every client would reach whatever holds the port (a stale dev server) and time out.
  if (options.port)
    await assertPortFree(options.port, 'Temporal dev server gRPC frontend', 'Set TEMPORAL_DEV_PORT to a free port');
  if (options.uiPort)
    await assertPortFree(options.uiPort, 'Temporal dev server Web UI', 'Set TEMPORAL_UI_PORT to a free port');
  let cli: DevServer['cli'];
  let executable: { type: 'existing-path'; path: string } | { type: 'cached-download' };
  let notFound: TemporalCliNotFoundError | undefined;
  try {
    const resolved = await resolveTemporalCli({ env: options.env, onProgress: options.onProgress });
    cli = resolved;
    executable = { type: 'existing-path', path: resolved.path };
  } catch (err) {
    if (!(err instanceof TemporalCliNotFoundError)) throw err;
    notFound = err;
    cli = { source: 'sdk-download', version: 'downloaded by the Temporal SDK' };
    executable = { type: 'cached-download' };
    options.onProgress?.('No local Temporal CLI; trying the SDK download (needs internet)');
  }

  if (options.dbFilename) mkdirSync(dirname(resolve(options.dbFilename)), { recursive: true });
  let env: TestWorkflowEnvironment;
  try {
    env = await TestWorkflowEnvironment.createLocal({
      server: {
        executable,
        ip: '127.0.0.1',
        port: options.port,
        namespace: options.namespace,
        dbFilename: options.dbFilename ? resolve(options.dbFilename) : undefined,
        ui: options.uiPort !== undefined,
        uiPort: options.uiPort,
        searchAttributes: customSearchAttributes,
        log: { format: 'json', level: 'error' },
        ...(options.uiCodecEndpoint ? { extraArgs: ['--ui-codec-endpoint', options.uiCodecEndpoint] } : {}),
      },
    });
  } catch (err) {
    if (notFound) {
      throw new TemporalCliNotFoundError(
        `${notFound.message}\n(The SDK download failed too: ${(err as Error).message.split('\n')[0]})`,
      );
    }
    throw new Error(
      `The Temporal dev server (${cli.version}) did not start: ${(err as Error).message}. ` +
        (options.port
          ? `Is port ${options.port} or ${options.uiPort} already taken? Set TEMPORAL_DEV_PORT/TEMPORAL_UI_PORT, or stop the other server.`
          : ''),
    );
  }
  return {
    env,
    address: env.address,
    uiUrl: options.uiPort !== undefined ? `http://127.0.0.1:${options.uiPort}` : undefined,
    cli,
    stop: () => env.teardown(),
  };
}
