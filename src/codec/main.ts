import { runServer } from '../process/lifecycle';
import { loadConfig } from '../config/config';
import { createLogger } from '../observability/logger';
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
  const server = await startCodecServer({
    codec,
    host: config.CODEC_HOST,
    port: config.CODEC_PORT,
    corsOrigins,
    maxBodyBytes: config.CODEC_MAX_BODY_BYTES,
    logger,
  });
  process.stdout.write(`${JSON.stringify({ event: 'codec.listening', url: server.url })}\n`);
  // Key ids only, never keys.
  logger.info(
    { event: 'codec.ready', url: server.url, corsOrigins, currentKeyId: codec.currentKeyId, keyIds: codec.keyIds },
    'codec server listening',
  );

  return server;
}

runServer('Codec server', main);
