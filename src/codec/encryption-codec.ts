import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { METADATA_ENCODING_KEY, ValueError, type Payload, type PayloadCodec } from '@temporalio/common';
import { Field, MapField, Type } from 'protobufjs';

/**
 * AES-256-GCM payload encryption (DESIGN rule 9): workflow histories hold ciphertext, never the inputs
 * and results themselves. Runs in worker and client processes only (never in workflow code).
 *
 * An encrypted payload is `{ metadata: { encoding: binary/encrypted, encryption-key-id: <id> },
 * data: iv (12 bytes) | ciphertext | tag (16 bytes) }`, where the plaintext is the original payload
 * (metadata included) serialized as the `temporal.api.common.v1.Payload` protobuf message, and the key id
 * is authenticated too (additional data), so it cannot be swapped for another key's id.
 */
export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const KEY_ID_METADATA_KEY = 'encryption-key-id';

const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;
const keyIdPattern = /^[\w.-]{1,64}$/;
const base64Pattern = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** `temporal.api.common.v1.Payload`, declared here: its wire format is what other SDKs' codecs encrypt too. */
const PayloadMessage = new Type('Payload')
  .add(new MapField('metadata', 1, 'string', 'bytes'))
  .add(new Field('data', 2, 'bytes'));

export interface EncryptionKey {
  id: string;
  /** 32 bytes. Secret: never logged. */
  key: Buffer;
}

export class EncryptionConfigError extends Error {
  override readonly name = 'EncryptionConfigError';
}

/**
 * Parses `id:base64key` entries (comma- or newline-separated; the first is the current key).
 * Errors name the source and the key id or entry position, never key material.
 */
export function parseEncryptionKeys(spec: string, source = 'PAYLOAD_ENCRYPTION_KEYS'): EncryptionKey[] {
  const entries = spec
    .split(/[,\n\r]+/)
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (entries.length === 0)
    throw new EncryptionConfigError(`${source} holds no key: expected id:base64key[,id:base64key...]`);
  const keys: EncryptionKey[] = [];
  entries.forEach((entry, i) => {
    const colon = entry.indexOf(':');
    const id = colon < 0 ? '' : entry.slice(0, colon).trim();
    const encoded = colon < 0 ? '' : entry.slice(colon + 1).trim();
    if (colon < 0 || !id || !encoded) {
      throw new EncryptionConfigError(`${source}: entry ${i + 1} is not id:base64key`);
    }
    if (!keyIdPattern.test(id)) {
      throw new EncryptionConfigError(
        `${source}: key id ${JSON.stringify(id.slice(0, 70))} must be 1-64 letters, digits, '_', '.' or '-'`,
      );
    }
    if (keys.some((k) => k.id === id)) {
      throw new EncryptionConfigError(`${source}: key id "${id}" appears more than once; each key needs its own id`);
    }
    if (!base64Pattern.test(encoded)) {
      throw new EncryptionConfigError(
        `${source}: key "${id}" is not valid base64 (generate one with: openssl rand -base64 32)`,
      );
    }
    const key = Buffer.from(encoded, 'base64');
    if (key.length !== KEY_BYTES) {
      throw new EncryptionConfigError(
        `${source}: key "${id}" is ${key.length} bytes; AES-256-GCM needs ${KEY_BYTES} (generate one with: openssl rand -base64 32)`,
      );
    }
    keys.push({ id, key });
  });
  return keys;
}

/**
 * The configured keys: `PAYLOAD_ENCRYPTION_KEYS_FILE` (a mounted file, same format; wins over the variable)
 * or `PAYLOAD_ENCRYPTION_KEYS`. `undefined` when neither is set: payloads stay plain.
 */
export function encryptionKeysFromEnv(env: NodeJS.ProcessEnv = process.env): EncryptionKey[] | undefined {
  const file = env.PAYLOAD_ENCRYPTION_KEYS_FILE || undefined;
  if (file) {
    let content: string;
    try {
      content = readFileSync(file, 'utf8');
    } catch (err) {
      throw new EncryptionConfigError(
        `PAYLOAD_ENCRYPTION_KEYS_FILE points at ${file}, which cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
      );
    }
    return parseEncryptionKeys(content, `PAYLOAD_ENCRYPTION_KEYS_FILE (${file})`);
  }
  const value = env.PAYLOAD_ENCRYPTION_KEYS || undefined;
  return value ? parseEncryptionKeys(value) : undefined;
}

/** A fresh random key in the `id:base64key` format (what `npm start` keeps in `.data/payload-key`). */
export function generateEncryptionKey(id: string): string {
  if (!keyIdPattern.test(id)) throw new EncryptionConfigError(`invalid key id ${JSON.stringify(id)}`);
  return `${id}:${randomBytes(KEY_BYTES).toString('base64')}`;
}

/**
 * Encodes with the current (first) key; decodes with whichever configured key the payload names.
 * Payloads that are not `binary/encrypted` (histories written before encryption was turned on) pass
 * through `decode` unchanged.
 */
export class EncryptionCodec implements PayloadCodec {
  private readonly keys: ReadonlyMap<string, Buffer>;
  private readonly current: EncryptionKey;

  constructor(keys: readonly EncryptionKey[]) {
    if (keys.length === 0) throw new EncryptionConfigError('EncryptionCodec needs at least one key');
    for (const k of keys) {
      if (k.key.length !== KEY_BYTES) throw new EncryptionConfigError(`key "${k.id}" is not ${KEY_BYTES} bytes`);
    }
    this.keys = new Map(keys.map((k) => [k.id, Buffer.from(k.key)]));
    if (this.keys.size !== keys.length) throw new EncryptionConfigError('EncryptionCodec: duplicate key id');
    this.current = { id: keys[0]!.id, key: Buffer.from(keys[0]!.key) };
  }

  /** The id new payloads are encrypted with. */
  get currentKeyId(): string {
    return this.current.id;
  }

  get keyIds(): string[] {
    return [...this.keys.keys()];
  }

  encode(payloads: Payload[]): Promise<Payload[]> {
    return Promise.resolve(payloads.map((p) => this.encrypt(p)));
  }

  decode(payloads: Payload[]): Promise<Payload[]> {
    // A payload that cannot be decrypted rejects (never throws synchronously).
    return Promise.resolve().then(() => payloads.map((p) => this.decrypt(p)));
  }

  private encrypt(payload: Payload): Payload {
    const { id, key } = this.current;
    const plaintext = PayloadMessage.encode(
      PayloadMessage.fromObject({ metadata: payload.metadata ?? {}, data: payload.data ?? new Uint8Array() }),
    ).finish();
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(Buffer.from(id, 'utf8'));
    const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return {
      metadata: {
        [METADATA_ENCODING_KEY]: Buffer.from(ENCRYPTED_ENCODING, 'utf8'),
        [KEY_ID_METADATA_KEY]: Buffer.from(id, 'utf8'),
      },
      data: Buffer.concat([iv, ciphertext, cipher.getAuthTag()]),
    };
  }

  private decrypt(payload: Payload): Payload {
    const encoding = payload.metadata?.[METADATA_ENCODING_KEY];
    if (!encoding || Buffer.from(encoding).toString('utf8') !== ENCRYPTED_ENCODING) return payload;
    const idBytes = payload.metadata?.[KEY_ID_METADATA_KEY];
    if (!idBytes) throw new ValueError(`Cannot decrypt payload: its metadata has no ${KEY_ID_METADATA_KEY}`);
    const id = Buffer.from(idBytes).toString('utf8');
    const key = this.keys.get(id);
    if (!key) {
      throw new ValueError(
        `Cannot decrypt payload: encryption key "${id}" is not configured (configured: ${this.keyIds.join(', ')}); ` +
          'add it to PAYLOAD_ENCRYPTION_KEYS (after the current key)',
      );
    }
    const data = Buffer.from(payload.data ?? new Uint8Array());
    if (data.length < IV_BYTES + TAG_BYTES) {
      throw new ValueError(`Cannot decrypt payload with key "${id}": data too short (${data.length} bytes)`);
    }
    const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, IV_BYTES), { authTagLength: TAG_BYTES });
    decipher.setAAD(Buffer.from(id, 'utf8'));
    decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
    let plaintext: Buffer;
    try {
      plaintext = Buffer.concat([decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)), decipher.final()]);
    } catch {
      throw new ValueError(
        `Cannot decrypt payload with key "${id}": authentication failed (the ciphertext was altered or the key is not the one it was encrypted with)`,
      );
    }
    let decoded: { metadata?: Record<string, Uint8Array>; data?: Uint8Array };
    try {
      decoded = PayloadMessage.toObject(PayloadMessage.decode(plaintext));
    } catch {
      // Authentic ciphertext (right key) whose plaintext is not a Payload message: written by something else.
      throw new ValueError(`Cannot decode payload decrypted with key "${id}": its plaintext is not a Payload protobuf`);
    }
    return { metadata: decoded.metadata ?? {}, data: decoded.data ?? new Uint8Array() };
  }
}
