import { readFileSync, statSync } from 'node:fs';
import type { TLSConfig } from '@temporalio/client';
import { configSchema, type Config } from '../config/config';

/**
 * How every process of the project reaches Temporal (worker, client, webhook receiver, control plane, codec
 * checks): one module, so a secured cluster or Temporal Cloud is a matter of variables, never of code.
 *
 * - address and namespace: `TEMPORAL_ADDRESS` (else the dev server on `TEMPORAL_DEV_PORT`), `TEMPORAL_NAMESPACE`;
 * - TLS: `TEMPORAL_TLS_CA_FILE` (the server's CA; unset: the system's roots), `TEMPORAL_TLS_SERVER_NAME`;
 * - mTLS: `TEMPORAL_TLS_CERT_FILE` + `TEMPORAL_TLS_KEY_FILE`, read at each connect (a rotated pair is used
 *   by the next connection: the receiver's reconnect, a worker's restart);
 * - API key (Temporal Cloud): `TEMPORAL_API_KEY` or `TEMPORAL_API_KEY_FILE`; the file is re-read when it
 *   changes and the new key used on the next request, without reconnecting.
 */
export interface TemporalSettings {
  /** host:port of the frontend. */
  address: string;
  namespace: string;
  /** Unset: plaintext. */
  tls?: {
    caFile?: string;
    serverName?: string;
    /** Client certificate and key (mTLS); both or neither. */
    certFile?: string;
    keyFile?: string;
  };
  apiKey?: string;
  apiKeyFile?: string;
}

type TemporalVariables = Pick<
  Config,
  | 'TEMPORAL_ADDRESS'
  | 'TEMPORAL_NAMESPACE'
  | 'TEMPORAL_DEV_PORT'
  | 'TEMPORAL_TLS'
  | 'TEMPORAL_TLS_CA_FILE'
  | 'TEMPORAL_TLS_SERVER_NAME'
  | 'TEMPORAL_TLS_CERT_FILE'
  | 'TEMPORAL_TLS_KEY_FILE'
  | 'TEMPORAL_API_KEY'
  | 'TEMPORAL_API_KEY_FILE'
>;

const temporalVariableNames = [
  'TEMPORAL_ADDRESS',
  'TEMPORAL_NAMESPACE',
  'TEMPORAL_DEV_PORT',
  'TEMPORAL_TLS',
  'TEMPORAL_TLS_CA_FILE',
  'TEMPORAL_TLS_SERVER_NAME',
  'TEMPORAL_TLS_CERT_FILE',
  'TEMPORAL_TLS_KEY_FILE',
  'TEMPORAL_API_KEY',
  'TEMPORAL_API_KEY_FILE',
] as const;

export class TemporalConnectionError extends Error {
  override readonly name = 'TemporalConnectionError';
}

/** The settings from validated configuration (a process's `loadConfig()`). */
export function temporalSettings(config: TemporalVariables): TemporalSettings {
  const { TEMPORAL_TLS_CERT_FILE: certFile, TEMPORAL_TLS_KEY_FILE: keyFile } = config;
  if ((certFile === undefined) !== (keyFile === undefined)) {
    throw new TemporalConnectionError(
      `TEMPORAL_TLS_CERT_FILE and TEMPORAL_TLS_KEY_FILE go together (mTLS needs the certificate and its key): ${certFile ? 'TEMPORAL_TLS_KEY_FILE' : 'TEMPORAL_TLS_CERT_FILE'} is not set`,
    );
  }
  const apiKey = config.TEMPORAL_API_KEY_FILE || config.TEMPORAL_API_KEY;
  const wantsTls =
    config.TEMPORAL_TLS === 'true' ||
    (config.TEMPORAL_TLS !== 'false' &&
      Boolean(config.TEMPORAL_TLS_CA_FILE || config.TEMPORAL_TLS_SERVER_NAME || certFile || apiKey));
  if (config.TEMPORAL_TLS === 'false' && (certFile || config.TEMPORAL_TLS_CA_FILE || apiKey)) {
    throw new TemporalConnectionError(
      'TEMPORAL_TLS=false contradicts TEMPORAL_TLS_*_FILE / TEMPORAL_API_KEY (certificates and API keys need TLS): unset one of them',
    );
  }
  return {
    address: config.TEMPORAL_ADDRESS ?? `127.0.0.1:${config.TEMPORAL_DEV_PORT}`,
    namespace: config.TEMPORAL_NAMESPACE,
    tls: wantsTls
      ? { caFile: config.TEMPORAL_TLS_CA_FILE, serverName: config.TEMPORAL_TLS_SERVER_NAME, certFile, keyFile }
      : undefined,
    apiKey: config.TEMPORAL_API_KEY_FILE ? undefined : config.TEMPORAL_API_KEY,
    apiKeyFile: config.TEMPORAL_API_KEY_FILE,
  };
}

/**
 * The settings from the environment alone, validating only the TEMPORAL_* variables (for a library caller such
 * as {@link IntegrationsClient}, whose process may not have the project's other variables).
 */
export function temporalSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): TemporalSettings {
  const schema = configSchema.pick(Object.fromEntries(temporalVariableNames.map((n) => [n, true])) as never);
  const raw = Object.fromEntries(temporalVariableNames.map((n) => [n, env[n] === '' ? undefined : env[n]]));
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new TemporalConnectionError(`Invalid Temporal connection variables:\n${lines.join('\n')}`);
  }
  return temporalSettings(parsed.data);
}

function readPem(path: string, variable: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new TemporalConnectionError(
      `${variable}=${path} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
    );
  }
}

/** The SDK's TLS options, with the files read now (so a rotated certificate is picked up by this connect). */
export function tlsConfig(settings: TemporalSettings): TLSConfig | undefined {
  const tls = settings.tls;
  if (!tls) return undefined;
  return {
    ...(tls.caFile ? { serverRootCACertificate: readPem(tls.caFile, 'TEMPORAL_TLS_CA_FILE') } : {}),
    ...(tls.serverName ? { serverNameOverride: tls.serverName } : {}),
    ...(tls.certFile && tls.keyFile
      ? {
          clientCertPair: {
            crt: readPem(tls.certFile, 'TEMPORAL_TLS_CERT_FILE'),
            key: readPem(tls.keyFile, 'TEMPORAL_TLS_KEY_FILE'),
          },
        }
      : {}),
  };
}

/** The API key now: the file's content when set (re-read when its mtime changes), else the variable. */
export function apiKeySource(settings: TemporalSettings): (() => string) | undefined {
  if (settings.apiKeyFile) {
    const file = settings.apiKeyFile;
    let mtimeMs = -1;
    let key = '';
    return () => {
      let stat;
      try {
        stat = statSync(file);
      } catch (err) {
        throw new TemporalConnectionError(
          `TEMPORAL_API_KEY_FILE=${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
        );
      }
      if (stat.mtimeMs !== mtimeMs) {
        key = readFileSync(file, 'utf8').trim();
        mtimeMs = stat.mtimeMs;
        if (!key) throw new TemporalConnectionError(`TEMPORAL_API_KEY_FILE=${file} is empty`);
      }
      return key;
    };
  }
  if (settings.apiKey) {
    const key = settings.apiKey;
    return () => key;
  }
  return undefined;
}

/** What the connection is, for logs and errors: never a key or a certificate. */
export function describeSettings(settings: TemporalSettings): string {
  const tls = settings.tls;
  const parts = [
    `namespace ${settings.namespace}`,
    tls ? `TLS${tls.caFile ? ` (CA ${tls.caFile})` : ' (system roots)'}` : 'plaintext',
  ];
  if (tls) parts.push(tls.certFile ? `client certificate ${tls.certFile}` : 'no client certificate');
  if (settings.apiKey || settings.apiKeyFile)
    parts.push(`API key${settings.apiKeyFile ? ` from ${settings.apiKeyFile}` : ''}`);
  return parts.join(', ');
}

/** The `temporal` CLI flags that reach the same server the same way (keys by variable, never their value). */
export function cliConnectionFlags(settings: TemporalSettings): string {
  const flags = [`--address ${settings.address}`];
  const tls = settings.tls;
  if (tls) {
    flags.push('--tls');
    if (tls.caFile) flags.push(`--tls-ca-path ${tls.caFile}`);
    if (tls.serverName) flags.push(`--tls-server-name ${tls.serverName}`);
    if (tls.certFile) flags.push(`--tls-cert-path ${tls.certFile} --tls-key-path ${tls.keyFile}`);
  }
  if (settings.apiKeyFile) flags.push(`--api-key "$(cat ${settings.apiKeyFile})"`);
  else if (settings.apiKey) flags.push('--api-key "$TEMPORAL_API_KEY"');
  return flags.join(' ');
}
