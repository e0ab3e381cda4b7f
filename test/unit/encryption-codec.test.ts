import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { codecAuthFromConfig, parseCodecRoles } from '../../src/codec/auth';
import { parseCorsOrigins } from '../../src/codec/codec-server';
import { dataConverterFromConfig } from '../../src/codec/data-converter';
import {
  EncryptionCodec,
  EncryptionConfigError,
  encryptionKeysFromEnv,
  parseEncryptionKeys,
  type EncryptionKey,
} from '../../src/codec/encryption-codec';

// Fixed keys: deterministic tests, and recognisable in an error message if one ever leaked.
const keyA = Buffer.alloc(32, 0xa1);
const keyB = Buffer.alloc(32, 0xb2);
const a: EncryptionKey = { id: 'key-a', key: keyA };
const b: EncryptionKey = { id: 'key-b', key: keyB };
const text = (bytes: Uint8Array | null | undefined) => Buffer.from(bytes ?? new Uint8Array()).toString('utf8');
const value = { orderId: 'ord-1', email: 'jane.doe@example.com', amount: 4200 };
const plain = (): Payload => defaultPayloadConverter.toPayload(value);

async function encodeOne(codec: EncryptionCodec, payload: Payload): Promise<Payload> {
  const [encoded] = await codec.encode([payload]);
  return encoded!;
}

async function errorOf(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

function syncErrorOf(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected an error');
}

describe('EncryptionCodec', () => {
  it('decodes what it encoded back to the same metadata and data', async () => {
    const codec = new EncryptionCodec([a]);
    const original = plain();
    const [decoded] = await codec.decode([await encodeOne(codec, original)]);
    expect(text(decoded!.metadata!.encoding)).toBe('json/plain');
    expect(defaultPayloadConverter.fromPayload(decoded!)).toEqual(value);
  });

  it('marks an encoded payload binary/encrypted with the current key id and keeps no plaintext', async () => {
    const encoded = await encodeOne(new EncryptionCodec([a, b]), plain());
    expect(Object.fromEntries(Object.entries(encoded.metadata!).map(([k, v]) => [k, text(v)]))).toEqual({
      encoding: 'binary/encrypted',
      'encryption-key-id': 'key-a',
    });
    expect(text(encoded.data)).not.toContain('jane.doe@example.com');
    expect(text(encoded.data)).not.toContain('json/plain');
  });

  it('uses a fresh IV for every payload, so one value never encrypts to the same bytes twice', async () => {
    const codec = new EncryptionCodec([a]);
    const [first, second] = await codec.encode([plain(), plain()]);
    expect(Buffer.from(first!.data!).subarray(0, 12)).not.toEqual(Buffer.from(second!.data!).subarray(0, 12));
    expect(Buffer.from(first!.data!)).not.toEqual(Buffer.from(second!.data!));
  });

  it('refuses a payload whose ciphertext was altered, saying authentication failed', async () => {
    const codec = new EncryptionCodec([a]);
    const encoded = await encodeOne(codec, plain());
    const data = Buffer.from(encoded.data!);
    data[20]! ^= 0x01;
    const error = await errorOf(codec.decode([{ ...encoded, data }]));
    expect(error.message).toMatch(/with key "key-a": authentication failed/);
  });

  it('refuses a payload whose key id was rewritten to another configured key', async () => {
    const codec = new EncryptionCodec([a, b]);
    const encoded = await encodeOne(codec, plain());
    const forged = { ...encoded, metadata: { ...encoded.metadata, 'encryption-key-id': Buffer.from('key-b') } };
    expect((await errorOf(codec.decode([forged]))).message).toContain('authentication failed');
  });

  it('decodes a payload encoded with an old key after a new current key is put in front of it', async () => {
    const before = new EncryptionCodec([a]);
    const encoded = await encodeOne(before, plain());
    const rotated = new EncryptionCodec([b, a]);
    expect(defaultPayloadConverter.fromPayload((await rotated.decode([encoded]))[0]!)).toEqual(value);
    expect(text((await encodeOne(rotated, plain())).metadata!['encryption-key-id'])).toBe('key-b');
  });

  it('names the missing key id when a payload was encoded with a key it does not have', async () => {
    const encoded = await encodeOne(new EncryptionCodec([a]), plain());
    const error = await errorOf(new EncryptionCodec([b]).decode([encoded]));
    expect(error.message).toContain('encryption key "key-a" is not configured (configured: key-b)');
  });

  it('passes a payload that was never encrypted through decode unchanged', async () => {
    const original = plain();
    expect(await new EncryptionCodec([a]).decode([original])).toEqual([original]);
  });
});

describe('payload encryption keys from configuration', () => {
  const b64 = (bytes: Buffer) => bytes.toString('base64');

  it('parses id:base64key pairs with the first one as the current key', () => {
    const keys = parseEncryptionKeys(`key-b:${b64(keyB)}, key-a:${b64(keyA)}`);
    expect(keys.map((k) => k.id)).toEqual(['key-b', 'key-a']);
    expect(new EncryptionCodec(keys).currentKeyId).toBe('key-b');
  });

  it('rejects a key that is not 32 bytes, naming the variable and the key id but not the key', () => {
    const short = b64(Buffer.alloc(16, 7));
    const error = syncErrorOf(() => parseEncryptionKeys(`short:${short}`));
    expect(error).toBeInstanceOf(EncryptionConfigError);
    expect(error.message).toBe(
      'PAYLOAD_ENCRYPTION_KEYS: key "short" is 16 bytes; AES-256-GCM needs 32 (generate one with: openssl rand -base64 32)',
    );
    expect(error.message).not.toContain(short);
  });

  it('rejects a key that is not base64', () => {
    expect(syncErrorOf(() => parseEncryptionKeys('k1:not*base64!')).message).toBe(
      'PAYLOAD_ENCRYPTION_KEYS: key "k1" is not valid base64 (generate one with: openssl rand -base64 32)',
    );
  });

  it('rejects a key id used twice', () => {
    expect(syncErrorOf(() => parseEncryptionKeys(`k1:${b64(keyA)},k1:${b64(keyB)}`)).message).toBe(
      'PAYLOAD_ENCRYPTION_KEYS: key id "k1" appears more than once; each key needs its own id',
    );
  });

  it('rejects an entry without an id, by position only', () => {
    const error = syncErrorOf(() => parseEncryptionKeys(`k1:${b64(keyA)},${b64(keyB)}`));
    expect(error.message).toBe('PAYLOAD_ENCRYPTION_KEYS: entry 2 is not id:base64key');
  });

  it('uses no codec when no key is configured', () => {
    expect(dataConverterFromConfig({})).toBeUndefined();
    expect(dataConverterFromConfig({ PAYLOAD_ENCRYPTION_KEYS: '', PAYLOAD_ENCRYPTION_KEYS_FILE: '' })).toBeUndefined();
  });

  it('builds one encryption codec when keys are configured', () => {
    const converter = dataConverterFromConfig({ PAYLOAD_ENCRYPTION_KEYS: `key-a:${b64(keyA)}` });
    expect(converter?.payloadCodecs).toEqual([expect.any(EncryptionCodec)]);
  });

  it('reads the keys file, one key per line, in preference to the variable', () => {
    const dir = mkdtempSync(join(tmpdir(), 'codec-keys-'));
    try {
      const file = join(dir, 'keys');
      writeFileSync(file, `key-b:${b64(keyB)}\nkey-a:${b64(keyA)}\n`);
      const keys = encryptionKeysFromEnv({ PAYLOAD_ENCRYPTION_KEYS_FILE: file, PAYLOAD_ENCRYPTION_KEYS: 'ignored:x' });
      expect(keys?.map((k) => k.id)).toEqual(['key-b', 'key-a']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('names the keys file when it cannot be read', () => {
    expect(
      syncErrorOf(() => encryptionKeysFromEnv({ PAYLOAD_ENCRYPTION_KEYS_FILE: '/nonexistent/keys' })).message,
    ).toBe('PAYLOAD_ENCRYPTION_KEYS_FILE points at /nonexistent/keys, which cannot be read (ENOENT)');
  });

  it('accepts exact UI origins for CORS and rejects one with a path', () => {
    expect(parseCorsOrigins('http://127.0.0.1:8233, http://localhost:8233')).toEqual([
      'http://127.0.0.1:8233',
      'http://localhost:8233',
    ]);
    expect(syncErrorOf(() => parseCorsOrigins('http://localhost:8233/ui')).message).toMatch(
      /^CODEC_CORS_ORIGINS: "http:\/\/localhost:8233\/ui" is not an origin/,
    );
  });
});

describe('codec auth from configuration', () => {
  const complete = {
    CODEC_AUTH_JWKS_URL: 'https://idp.example.com/.well-known/jwks.json',
    CODEC_AUTH_ISSUER: 'https://idp.example.com/',
    CODEC_AUTH_AUDIENCE: 'temporal-ui',
    CODEC_AUTH_ROLES_CLAIM: 'roles',
    CODEC_AUTH_ROLES: '{"operator":{"decode":["default"]},"admin":{"decode":["*"],"encode":["*"]}}',
  };

  it('is off (laptop mode) when none of the variables is set', () => {
    expect(codecAuthFromConfig({ CODEC_AUTH_ROLES_CLAIM: 'roles' })).toBeUndefined();
  });

  it('maps each role to what it may decode and encode', () => {
    const auth = codecAuthFromConfig(complete);
    expect(auth?.roles.get('operator')).toEqual({ decode: ['default'], encode: [] });
    expect(auth?.roles.get('admin')).toEqual({ decode: ['*'], encode: ['*'] });
    expect(auth?.roles.get('guest')).toBeUndefined();
  });

  it('names every variable still missing when auth is partly configured', () => {
    const { CODEC_AUTH_AUDIENCE: _a, CODEC_AUTH_ROLES: _r, ...partial } = complete;
    expect(() => codecAuthFromConfig(partial)).toThrow(
      'codec auth is partly configured: set CODEC_AUTH_AUDIENCE, CODEC_AUTH_ROLES too (see .env.example)',
    );
  });

  it('refuses a JWKS fetched over plain HTTP from another host', () => {
    expect(() => codecAuthFromConfig({ ...complete, CODEC_AUTH_JWKS_URL: 'http://idp.example.com/jwks' })).toThrow(
      /CODEC_AUTH_JWKS_URL must be https/,
    );
  });

  it('refuses roles that are not JSON, or grant something other than decode and encode, naming the field', () => {
    expect(() => parseCodecRoles('operator=default')).toThrow(/^CODEC_AUTH_ROLES is not JSON/);
    expect(() => parseCodecRoles('{"operator":{"delete":["default"]}}')).toThrow(/^CODEC_AUTH_ROLES: operator/);
    expect(() => parseCodecRoles('{"operator":{"decode":["a b"]}}')).toThrow(/operator\.decode\.0/);
  });
});
