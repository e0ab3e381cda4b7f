import { Connection, type ConnectionOptions } from '@temporalio/client';
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
  try {
    return await Connection.connect(clientConnectionOptions(settings, extra));
  } catch (err) {
    throw connectError(err, settings, 'Temporal', await probeTls(settings));
  }
}

/** A client connection that connects on first use (the receiver starts while Temporal is down). */
export function lazyClientConnection(
  settings: TemporalSettings,
  extra: Omit<ConnectionOptions, 'address' | 'tls' | 'apiKey'> = {},
): Connection {
  return Connection.lazy(clientConnectionOptions(settings, extra));
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
