import { setTimeout as sleep } from 'node:timers/promises';
import {
  Connection,
  defaultGrpcRetryOptions,
  makeGrpcRetryInterceptor,
  type ConnectionOptions,
} from '@temporalio/client';
import { NativeConnection, type NativeConnectionOptions } from '@temporalio/worker';
import { connectError, probeTls } from './connect-errors';
import { apiKeySource, tlsConfig, type TemporalSettings } from './settings';

// Settings (variables -> address, TLS, API key) and the diagnosis of failed connects live beside this
// module; every process imports all three from here.
export * from './settings';
export { connectError, probeTls } from './connect-errors';

/** Options for a client {@link Connection} (the SDK's own options may be added: timeouts, channel args). */
export function clientConnectionOptions(
  settings: TemporalSettings,
  extra: Omit<ConnectionOptions, 'address' | 'tls' | 'apiKey'> = {},
): ConnectionOptions {
  const tls = tlsConfig(settings);
  const apiKey = apiKeySource(settings);
  return { ...extra, address: settings.address, ...(tls ? { tls } : {}), ...(apiKey ? { apiKey } : {}) };
}

/** A client connection (starting workflows, queries, the control plane, checks); fails with {@link connectError}. */
export async function connectClient(
  settings: TemporalSettings,
  extra: Omit<ConnectionOptions, 'address' | 'tls' | 'apiKey'> = {},
): Promise<Connection> {
  const retries = extra.interceptors ? undefined : retriesUntilClosed();
  try {
    const connection = await Connection.connect({
      ...clientConnectionOptions(settings, extra),
      ...(retries ? { interceptors: [retries.interceptor] } : {}),
    });
    return retries ? retries.stopOnClose(connection) : connection;
  } catch (err) {
    throw connectError(err, settings, 'Temporal', await probeTls(settings));
  }
}

/** A client connection that connects on first use (the receiver starts while Temporal is down). */
export function lazyClientConnection(
  settings: TemporalSettings,
  extra: Omit<ConnectionOptions, 'address' | 'tls' | 'apiKey'> = {},
): Connection {
  const retries = extra.interceptors ? undefined : retriesUntilClosed();
  const connection = Connection.lazy({
    ...clientConnectionOptions(settings, extra),
    ...(retries ? { interceptors: [retries.interceptor] } : {}),
  });
  return retries ? retries.stopOnClose(connection) : connection;
}

/**
 * The SDK's own gRPC retries (its defaults), stopped once the connection closes. Without this, a call that
 * failed just before `close()` is retried by a timer on the closed channel, which throws "Channel has been
 * shut down" outside any promise and takes the process down (a test suite, a receiver shutting down). Closing
 * stops new retries and waits for a retry already scheduled to go out first, so it ends like any other call.
 */
function retriesUntilClosed() {
  const defaults = defaultGrpcRetryOptions();
  let closing = false;
  let lastRetryAt = 0;
  const interceptor = makeGrpcRetryInterceptor({
    retryableDecider: (attempt, status) => !closing && defaults.retryableDecider(attempt, status),
    delayFunction: (attempt, status) => {
      const delay = defaults.delayFunction(attempt, status);
      lastRetryAt = Math.max(lastRetryAt, Date.now() + delay);
      return delay;
    },
  });
  return {
    interceptor,
    stopOnClose(connection: Connection): Connection {
      const close = connection.close.bind(connection);
      connection.close = async () => {
        closing = true;
        const pending = lastRetryAt - Date.now();
        if (pending > 0) await sleep(pending + 50);
        await close();
      };
      return connection;
    },
  };
}

/**
 * A worker's connection. Its API key is a string in the SDK, so a key file is watched and a rotated key set
 * on the live connection ({@link NativeConnection.setApiKey}) within `apiKeyPollMs`.
 */
export async function connectWorker(
  settings: TemporalSettings,
  extra: Omit<NativeConnectionOptions, 'address' | 'tls' | 'apiKey'> = {},
  apiKeyPollMs = 10_000,
): Promise<NativeConnection> {
  const tls = tlsConfig(settings);
  const apiKey = apiKeySource(settings);
  let connection: NativeConnection;
  try {
    connection = await NativeConnection.connect({
      ...extra,
      address: settings.address,
      ...(tls ? { tls } : {}),
      ...(apiKey ? { apiKey: apiKey() } : {}),
    });
  } catch (err) {
    throw connectError(err, settings, 'Temporal', await probeTls(settings));
  }
  if (apiKey && settings.apiKeyFile) {
    let current = apiKey();
    const timer = setInterval(() => {
      let next: string;
      try {
        next = apiKey();
      } catch {
        return; // mid-rotation (file briefly missing): keep the current key
      }
      if (next === current) return;
      current = next;
      connection.setApiKey(next).catch(() => clearInterval(timer));
    }, apiKeyPollMs);
    timer.unref();
    const close = connection.close.bind(connection);
    connection.close = async () => {
      clearInterval(timer);
      await close();
    };
  }
  return connection;
}
