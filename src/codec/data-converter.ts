import type { DataConverter } from '@temporalio/common';
import { EncryptionCodec, encryptionKeysFromEnv } from './encryption-codec';

/**
 * The data converter every worker and client of this project uses: payloads encrypted with
 * {@link EncryptionCodec} when `PAYLOAD_ENCRYPTION_KEYS(_FILE)` is set, `undefined` (plain payloads,
 * the SDK's default) otherwise. Throws an `EncryptionConfigError` naming the variable on a bad key,
 * so a process fails at start-up rather than on its first payload.
 */
export function dataConverterFromConfig(env: NodeJS.ProcessEnv = process.env): DataConverter | undefined {
  const keys = encryptionKeysFromEnv(env);
  return keys ? { payloadCodecs: [new EncryptionCodec(keys)] } : undefined;
}
