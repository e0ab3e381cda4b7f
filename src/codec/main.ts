import { runServer } from '../process/lifecycle';
import { loadConfig } from '../config/config';
import { createLogger } from '../observability/logger';
import { codecAuthFromConfig } from './auth';
import { parseCorsOrigins, startCodecServer } from './codec-server';
import { EncryptionCodec, encryptionKeysFromEnv } from './encryption-codec';

/**
 * Process entry: `npm run codec`. The codec server the Temporal Web UI (and `temporal ... --codec-endpoint`)
 * calls to show encrypted payloads decoded. Prints one JSON line on stdout once listening
 * (`codec.listening`); SIGTERM/SIGINT close it.
 */
async function main(): Promise<{ close(): Promise<void> }> {
  const config = loadConfig();
  const logger = createLogger({ name: 'codec', level: config.LOG_LEVEL });
  const keys = encryptionKeysFromEnv(process.env);
  if (!keys) {
    throw new Error(
      'PAYLOAD_ENCRYPTION_KEYS (or PAYLOAD_ENCRYPTION_KEYS_FILE) is not set: the codec server has no key to decode with (see .env.example)',
    );
  }
  const codec = new EncryptionCodec(keys);
  const corsOrigins = parseCorsOrigins(config.CODEC_CORS_ORIGINS);
  const auth = codecAuthFromConfig(config);
  const server = await startCodecServer({
    codec,
    host: config.CODEC_HOST,
    port: config.CODEC_PORT,
    corsOrigins,
    auth,
    maxBodyBytes: config.CODEC_MAX_BODY_BYTES,
    headersTimeoutMs: config.CODEC_HEADERS_TIMEOUT_MS,
    requestTimeoutMs: config.CODEC_REQUEST_TIMEOUT_MS,
    ops: { host: config.OPS_HOST, port: config.CODEC_OPS_PORT, ready: () => codec.keyIds.length > 0 },
    logger,
  });
  const mode = auth ? 'jwt' : 'loopback-without-auth';
  process.stdout.write(
    `${JSON.stringify({ event: 'codec.listening', url: server.url, opsUrl: server.opsUrl, metricsUrl: server.metricsUrl, auth: mode })}\n`,
  );
  if (!auth) {
    logger.warn(
      { event: 'codec.no_auth', url: server.url },
      'codec server WITHOUT authentication, on loopback only (laptop mode): anyone on this machine can decode; ' +
        'set CODEC_AUTH_JWKS_URL, CODEC_AUTH_ISSUER, CODEC_AUTH_AUDIENCE and CODEC_AUTH_ROLES to serve beyond it',
    );
  }
  // Key ids only, never keys.
  logger.info(
    {
      event: 'codec.ready',
      url: server.url,
      opsUrl: server.opsUrl,
      metricsUrl: server.metricsUrl,
      auth: mode,
      corsOrigins,
      currentKeyId: codec.currentKeyId,
      keyIds: codec.keyIds,
    },
    'codec server listening',
  );

  return server;
}

runServer('Codec server', main);
