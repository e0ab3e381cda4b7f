import { createCipheriv, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { defaultPayloadConverter } from '@temporalio/common';
import { exportJWK, generateKeyPair, SignJWT, type KeyLike } from 'jose';
import { parseCodecRoles } from '../../src/codec/auth';
import { startCodecServer, type CodecServer } from '../../src/codec/codec-server';
import { EncryptionCodec, parseEncryptionKeys } from '../../src/codec/encryption-codec';
import { startService } from '../../src/devserver/service-process';
import { TMP_DIR } from '../support/stack';
import { rawConnect, rawRequest } from './raw-http';

// The codec server's edges with auth on: tokens minted here with jose, verified against a JWKS this
// test serves over real HTTP, as an identity provider would.
const issuer = 'https://idp.edges.test';
const audience = 'temporal-codec';
const keyId = 'edges-key-1';
const keySpec = `prod-2026:${randomBytes(32).toString('base64')}`;
const codec = new EncryptionCodec(parseEncryptionKeys(keySpec));
const uiOrigin = 'http://127.0.0.1:8233';

let signingKey: KeyLike;
let strangerKey: KeyLike;
let jwks: Server;
let jwksUrl: string;
let server: CodecServer;

beforeAll(async () => {
  const pair = await generateKeyPair('ES256');
  signingKey = pair.privateKey;
  strangerKey = (await generateKeyPair('ES256')).privateKey;
  const publicJwk = { ...(await exportJWK(pair.publicKey)), kid: keyId, alg: 'ES256', use: 'sig' };
  jwks = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ keys: [publicJwk] }));
  });
  await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
  jwksUrl = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/.well-known/jwks.json`;
  server = await startCodecServer({
    codec,
    corsOrigins: [uiOrigin],
    auth: {
      jwksUrl,
      issuer,
      audience,
      rolesClaim: 'realm_access.roles',
      roles: parseCodecRoles(
        JSON.stringify({ operator: { decode: ['default'] }, admin: { decode: ['*'], encode: ['*'] } }),
      ),
    },
    headersTimeoutMs: 300,
    requestTimeoutMs: 600,
    ops: { host: '127.0.0.1', port: 0, ready: () => codec.keyIds.length > 0 },
  });
});

afterAll(async () => {
  await server.close();
  await new Promise<void>((resolve) => jwks.close(() => resolve()));
});

async function token(
  options: {
    roles?: string[];
    key?: KeyLike;
    kid?: string;
    expiresIn?: string | number;
    aud?: string;
    iss?: string;
  } = {},
) {
  return new SignJWT({ realm_access: { roles: options.roles ?? ['operator'] } })
    .setProtectedHeader({ alg: 'ES256', kid: options.kid ?? keyId })
    .setSubject('operator@example.com')
    .setIssuer(options.iss ?? issuer)
    .setAudience(options.aud ?? audience)
    .setIssuedAt()
    .setExpirationTime(options.expiresIn ?? '5m')
    .sign(options.key ?? signingKey);
}

async function encrypted(): Promise<{ metadata: Record<string, string>; data: string }> {
  const [payload] = await codec.encode([defaultPayloadConverter.toPayload({ customer: 'cus_0042' })]);
  return {
    metadata: Object.fromEntries(
      Object.entries(payload!.metadata!).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
    ),
    data: Buffer.from(payload!.data!).toString('base64'),
  };
}

async function call(path: string, headers: Record<string, string>, body?: unknown) {
  const res = await fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body ?? { payloads: [await encrypted()] }),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, body: JSON.parse(text) as Record<string, unknown> };
}

const bearer = (jwt: string) => ({ authorization: `Bearer ${jwt}` });

describe('codec edges: authentication', () => {
  it('answers 401 with a Bearer challenge to a call without a token', async () => {
    const res = await call('/decode', {});
    expect([res.status, res.body.error]).toEqual([401, 'unauthenticated']);
    expect(res.headers.get('www-authenticate')).toBe('Bearer realm="codec"');
  });

  it.each([
    ['not a bearer token', 'Basic dXNlcjpwYXNz'],
    ['a malformed JWT', 'Bearer not.a.jwt'],
    ['garbage', 'Bearer %%%'],
  ])('answers 401 to %s', async (_name, authorization) => {
    const res = await call('/decode', { authorization });
    expect([res.status, res.body.error]).toEqual([401, 'invalid_token']);
  });

  it('answers 401 to a token signed by a key the identity provider does not publish', async () => {
    const res = await call('/decode', bearer(await token({ key: strangerKey })));
    expect([res.status, res.body.error]).toEqual([401, 'invalid_token']);
    expect(res.text).not.toContain(keyId);
  });

  it('answers 401 token_expired to an expired token', async () => {
    const res = await call('/decode', bearer(await token({ expiresIn: Math.floor(Date.now() / 1000) - 3_600 })));
    expect([res.status, res.body.error]).toEqual([401, 'token_expired']);
  });

  it('answers 401 to a token for another audience or from another issuer', async () => {
    expect((await call('/decode', bearer(await token({ aud: 'another-api' })))).status).toBe(401);
    expect((await call('/decode', bearer(await token({ iss: 'https://evil.example' })))).status).toBe(401);
  });

  it('decodes for an operator in a namespace its role may read', async () => {
    const res = await call('/decode', { ...bearer(await token()), 'x-namespace': 'default' });
    expect(res.status).toBe(200);
    const [payload] = res.body.payloads as { data: string }[];
    expect(JSON.parse(Buffer.from(payload!.data, 'base64').toString('utf8'))).toEqual({ customer: 'cus_0042' });
  });
});

describe('codec edges: roles', () => {
  it('answers 403 to an operator decoding another namespace (header or path)', async () => {
    const jwt = await token();
    expect((await call('/decode', { ...bearer(jwt), 'x-namespace': 'billing' })).status).toBe(403);
    expect((await call('/billing/decode', bearer(jwt))).status).toBe(403);
  });

  it('answers 403 to a token whose roles are unknown or missing', async () => {
    expect((await call('/decode', bearer(await token({ roles: ['guest'] })))).status).toBe(403);
    expect((await call('/decode', bearer(await token({ roles: [] })))).status).toBe(403);
  });

  it('answers 400 when the path and X-Namespace disagree', async () => {
    const res = await call('/default/decode', { ...bearer(await token()), 'x-namespace': 'billing' });
    expect([res.status, res.body.error]).toEqual([400, 'namespace_mismatch']);
  });

  it('keeps /encode to roles with the encode permission', async () => {
    const plain = {
      payloads: [{ metadata: { encoding: Buffer.from('json/plain').toString('base64') }, data: 'e30=' }],
    };
    expect((await call('/encode', bearer(await token()), plain)).status).toBe(403);
    const admin = await call('/encode', bearer(await token({ roles: ['admin'] })), plain);
    expect(admin.status).toBe(200);
    expect(admin.text).toContain(Buffer.from('binary/encrypted').toString('base64'));
  });

  it('lets an admin decode any namespace', async () => {
    expect((await call('/billing/decode', bearer(await token({ roles: ['admin'] })))).status).toBe(200);
  });
});

describe('codec edges: CORS and bad payloads', () => {
  it('answers the preflight without a token, allowing exactly what the UI sends', async () => {
    const res = await fetch(`${server.url}/decode`, {
      method: 'OPTIONS',
      headers: {
        origin: uiOrigin,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization,content-type,x-namespace',
      },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-headers')).toBe('authorization, content-type, x-namespace');
    expect(res.headers.get('access-control-allow-origin')).toBe(uiOrigin);
  });

  it('answers the UI origin with CORS on a 401 too, so the browser can show why', async () => {
    const res = await call('/decode', { origin: uiOrigin });
    expect([res.status, res.headers.get('access-control-allow-origin')]).toEqual([401, uiOrigin]);
  });

  it('answers 400, not 500, to an authentic payload whose plaintext is not a protobuf, naming no key', async () => {
    const key = Buffer.from(keySpec.split(':')[1]!, 'base64');
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: 16 });
    cipher.setAAD(Buffer.from('prod-2026'));
    const ciphertext = Buffer.concat([cipher.update('not a protobuf at all {}'), cipher.final()]);
    const payload = {
      metadata: {
        encoding: Buffer.from('binary/encrypted').toString('base64'),
        'encryption-key-id': Buffer.from('prod-2026').toString('base64'),
      },
      data: Buffer.concat([iv, ciphertext, cipher.getAuthTag()]).toString('base64'),
    };
    const res = await call('/decode', bearer(await token({ roles: ['admin'] })), { payloads: [payload] });
    expect([res.status, res.body.error]).toEqual([400, 'decode_failed']);
    expect(res.text).not.toContain('prod-2026');
  });

  it('names no configured key id when a payload names a key it does not have', async () => {
    const payload = await encrypted();
    payload.metadata['encryption-key-id'] = Buffer.from('old-key').toString('base64');
    const res = await call('/decode', bearer(await token({ roles: ['admin'] })), { payloads: [payload] });
    expect(res.status).toBe(400);
    expect(res.text).not.toContain('prod-2026');
    expect(res.text).not.toContain('old-key');
  });
});

describe('codec edges: connections', () => {
  it('answers each of two pipelined calls, the unauthenticated one with its 401', async () => {
    const body = JSON.stringify({ payloads: [await encrypted()] });
    const json = { 'content-type': 'application/json' };
    const conn = await rawConnect(server.url);
    conn.socket.write(
      rawRequest('POST', '/decode', { ...json, ...bearer(await token()) }, body) +
        rawRequest('POST', '/decode', json, body),
    );
    expect(await conn.responses(2)).toEqual([200, 401]);
    conn.destroy();
  });

  it('cuts a client that trickles its headers (the header timeout is enforced)', async () => {
    const conn = await rawConnect(server.url);
    const timer = setInterval(() => conn.closed() || conn.socket.write('x'), 50);
    conn.socket.write('POST /decode HTTP/1.1\r\nhost: codec\r\nx-slow: ');
    try {
      expect(await conn.untilClosed()).toMatch(/^HTTP\/1\.1 408 /);
    } finally {
      clearInterval(timer);
    }
  });

  it('is ready on its operations port once its keys are loaded', async () => {
    const res = await fetch(`${server.opsUrl}/readyz`);
    expect([res.status, await res.json()]).toEqual([200, expect.objectContaining({ checks: { keys: true } })]);
  });
});

describe('codec edges: laptop mode', () => {
  it('refuses to listen beyond loopback without auth', async () => {
    await expect(startCodecServer({ codec, host: '0.0.0.0' })).rejects.toThrow(/beyond loopback.*CODEC_AUTH_JWKS_URL/);
  });

  it('decodes without a token on loopback when no auth is configured', async () => {
    const open = await startCodecServer({ codec });
    try {
      const res = await fetch(`${open.url}/decode`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ payloads: [await encrypted()] }),
      });
      expect([open.authenticated, res.status]).toEqual([false, 200]);
    } finally {
      await open.close();
    }
  });

  it('says at start-up that it runs without auth on loopback, and stops with the reason beyond it', async () => {
    const env = { ...process.env, PAYLOAD_ENCRYPTION_KEYS: keySpec, LOG_LEVEL: 'info' };
    const laptop = startService({
      name: 'codec',
      entry: 'src/codec/main.ts',
      env,
      logFile: join(TMP_DIR, 'logs', `codec-edges-${process.pid}.log`),
      readyEvent: 'codec.listening',
    });
    try {
      expect(await laptop.ready).toEqual({
        event: 'codec.listening',
        url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/) as string,
        opsUrl: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/) as string,
        metricsUrl: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/) as string,
        auth: 'loopback-without-auth',
      });
    } finally {
      await laptop.stop();
    }
    const exposed = startService({
      name: 'codec',
      entry: 'src/codec/main.ts',
      env: { ...env, CODEC_HOST: '0.0.0.0' },
      logFile: join(TMP_DIR, 'logs', `codec-edges-exposed-${process.pid}.log`),
      readyEvent: 'codec.listening',
    });
    await expect(exposed.ready).rejects.toThrow(/beyond loopback/);
    expect(await exposed.exited).toBe(1);
  });
});
