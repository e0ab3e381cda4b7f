import { mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ApplicationFailure } from '@temporalio/common';
import { Pool } from 'undici';
import { z } from 'zod';
import { defineIntegration, get, oauth2ClientCredentials } from '../../src/integrations/kit/define';
import { FailureType } from '../../src/integrations/kit/failures';
import { env, secret } from '../../src/integrations/kit/refs';
import { IntegrationEngine } from '../../src/integrations/runtime/engine';
import { startSandbox, type Sandbox, type SandboxCredentials } from '../../src/sandbox/server';
import { generateTlsMaterial, issueCertificate, type KeyPair, type TlsMaterial } from '../../src/sandbox/tls';
import { testLogger } from '../support/stack';
import { SandboxAdminClient } from '../../src/sandbox/admin-client';

/**
 * Mutual TLS end to end: this file's own sandbox serves the payments routes behind a client-certificate
 * check, and a test-only integration reaches it through IntegrationEngine with certificates from files.
 */

const credentials: SandboxCredentials = {
  paymentsClientId: 'mtls-test-client-id',
  paymentsClientSecret: 'mtls-test-client-secret',
  documentsApiKey: 'mtls-test-documents-key',
  emailApiKey: 'mtls-test-email-key',
  crmApiKey: 'mtls-test-crm-key',
  inventoryApiKey: 'mtls-test-inventory-key',
  webhookSecret: 'mtls-test-webhook-secret',
};

// Test-only configuration names: not in the config schema, hence the casts.
const endpoints = { hello: get('hello', { response: z.object({ ok: z.literal(true) }), profile: 'userFlow' }) };
const auth = oauth2ClientCredentials({
  tokenUrl: 'oauth/token',
  clientId: env('PROBE_CLIENT_ID'),
  clientSecret: secret('PROBE_CLIENT_SECRET'),
});
const common = {
  version: 'v1',
  purpose: 'mTLS probe',
  owner: 'tests',
  baseUrl: env('PROBE_URL'),
  auth,
  hello: 'hello' as const,
};
const probe = defineIntegration({
  ...common,
  name: 'probe',
  mtls: { cert: secret('PROBE_CERT'), key: secret('PROBE_KEY'), ca: secret('PROBE_CA') },
  endpoints,
});
/** No `ca`: the server certificate is checked against Node's default (public) roots. */
const probeDefaultRoots = defineIntegration({
  ...common,
  name: 'probedefaultroots',
  mtls: { cert: secret('PROBE_CERT'), key: secret('PROBE_KEY') },
  endpoints,
});

/**
 * How a client sees the server refusing its certificate: with TLS 1.3 the client's handshake completes
 * first, then the server's alert 116 (certificate required / unknown CA) closes the connection; undici 7
 * reports that as UND_ERR_SOCKET ("other side closed") rather than the alert itself.
 */
const handshakeRefused =
  '(?:UND_ERR_SOCKET|ECONNRESET|ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED|ERR_SSL_TLSV1_ALERT_UNKNOWN_CA)';

let dir: string;
let material: TlsMaterial;
/** Another throwaway CA, with its own server and client certificates: trusted by nobody here. */
let stranger: TlsMaterial;
let sandbox: Sandbox;
const runtimes: IntegrationEngine[] = [];
const pools: Pool[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mtls-test-'));
  [material, stranger] = await Promise.all([generateTlsMaterial(), generateTlsMaterial()]);
  sandbox = await startSandbox({
    port: 0,
    credentials,
    tls: { ca: material.ca.cert, cert: material.server.cert, key: material.server.key },
  });
});

afterAll(async () => {
  await Promise.all([...runtimes.map((r) => r.close()), ...pools.map((p) => p.close())]);
  await sandbox?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

let mtime = Math.floor(Date.now() / 1000);
/**
 * Writes a PEM file and gives it an mtime no earlier write had: the secret source re-reads a file when its
 * mtime changes, and two writes within the same clock tick must not look like one.
 */
async function writePem(name: string, pem: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, pem, { mode: 0o600 });
  mtime += 10;
  await utimes(path, mtime, mtime);
  return path;
}

async function clientFiles(
  prefix: string,
  pair: KeyPair,
): Promise<{ PROBE_CERT_FILE: string; PROBE_KEY_FILE: string }> {
  return {
    PROBE_CERT_FILE: await writePem(`${prefix}-cert.pem`, pair.cert),
    PROBE_KEY_FILE: await writePem(`${prefix}-key.pem`, pair.key),
  };
}

function runtime(
  vars: Record<string, string>,
  options: Partial<ConstructorParameters<typeof IntegrationEngine>[0]> = {},
) {
  const r = new IntegrationEngine({
    logger: testLogger(),
    env: {
      NODE_ENV: 'test',
      PROBE_URL: `${sandbox.mtlsUrl}/payments`,
      PROBE_CLIENT_ID: credentials.paymentsClientId,
      PROBE_CLIENT_SECRET: credentials.paymentsClientSecret,
      ...vars,
    },
    ...options,
  });
  runtimes.push(r);
  return r;
}

const hello = (r: IntegrationEngine, integration = probe) => r.call(integration, 'hello', {}, { attempt: 1 });

async function failure(call: Promise<unknown>): Promise<ApplicationFailure> {
  return call.then(
    () => {
      throw new Error('expected the call to fail');
    },
    (err: unknown) => err as ApplicationFailure,
  );
}

/** What reached the sandbox's handlers (a connection refused at the TLS handshake never does). */
async function stats(of: Sandbox = sandbox): Promise<{ tokens: number; hellos: number }> {
  const snapshot = await new SandboxAdminClient(of.url).stats();
  return { tokens: snapshot.tokenRequests, hellos: snapshot.requests['GET /payments/hello'] ?? 0 };
}

describe('mTLS to the sandbox through IntegrationEngine', () => {
  it('the sandbox serves https on its mTLS port, next to plain http', () => {
    expect(sandbox.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(sandbox.mtlsUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(sandbox.mtlsUrl).not.toBe(sandbox.url.replace('http:', 'https:'));
  });

  it('(a) OAuth and hello succeed with the client certificate, trusting only the throwaway CA', async () => {
    const r = runtime({
      ...(await clientFiles('a', material.client)),
      PROBE_CA_FILE: await writePem('a-ca.pem', material.ca.cert),
    });
    const before = await stats();
    await expect(hello(r)).resolves.toEqual({ ok: true });
    expect(await stats()).toEqual({ tokens: before.tokens + 1, hellos: before.hellos + 1 });
    await expect(r.hello(probe)).resolves.toEqual({ ok: true, message: 'hello answered' });
  });

  it('(b) without a client certificate the handshake is refused and the call fails at once, classified', async () => {
    // A client that trusts the CA but presents no certificate (the engine always sends its configured
    // one, so this pool stands in for it): the sandbox refuses the handshake (TLS 1.3 alert 116).
    const origin = new URL(sandbox.mtlsUrl!).origin;
    const noCertPool = new Pool(origin, { connect: { ca: material.ca.cert, timeout: 5_000 } });
    pools.push(noCertPool);
    const bare = runtime({}, { dispatcher: () => noCertPool });
    const before = await stats();
    const refused = await failure(hello(bare));
    // The first request is the token request, so the engine reports the auth step: retryable, with the code.
    expect(refused).toMatchObject({ type: FailureType.AuthUnavailable, nonRetryable: false });
    expect(refused.message).toMatch(
      new RegExp(`^probe\\.hello: token endpoint unreachable \\(${handshakeRefused}\\)$`),
    );
    expect(await stats()).toEqual(before); // nothing reached a handler
  });

  it('(c) a rotated client certificate takes effect on the next call, without a restart', async () => {
    const certs = {
      PROBE_CERT_FILE: join(dir, 'c-cert.pem'),
      PROBE_KEY_FILE: join(dir, 'c-key.pem'),
      PROBE_CA_FILE: await writePem('c-ca.pem', material.ca.cert),
    };
    const rotate = async (pair: KeyPair) => {
      await writePem('c-cert.pem', pair.cert);
      await writePem('c-key.pem', pair.key);
    };
    await rotate(material.client);
    const r = runtime(certs);
    await expect(hello(r)).resolves.toEqual({ ok: true }); // token fetched and cached, connection kept alive

    // A certificate from a CA the sandbox does not trust: if the old pool (old certificate, live
    // keep-alive connection) were still in use this would succeed.
    await rotate(stranger.client);
    const before = await stats();
    const rejected = await failure(hello(r));
    // The token is cached, so this is the hello request itself: a read that got no answer.
    expect(rejected).toMatchObject({ type: FailureType.Timeout, nonRetryable: false });
    expect(rejected.message).toMatch(new RegExp(`^probe\\.hello: no answer \\(${handshakeRefused}\\)$`));
    expect(await stats()).toEqual(before);

    // Back to the original certificate: works again, same runtime.
    await rotate(material.client);
    await expect(hello(r)).resolves.toEqual({ ok: true });

    // A new certificate from the same CA (what a real rotation looks like) also works.
    await rotate(await issueCertificate(material.ca, { commonName: 'rotated-client', usage: 'client' }));
    await expect(hello(r)).resolves.toEqual({ ok: true });
    const after = await stats();
    expect(after).toEqual({ tokens: before.tokens, hellos: before.hellos + 2 }); // one token throughout
  });

  it('(d) a server whose certificate is not signed by the configured CA is refused before anything is sent', async () => {
    // An impostor on https: it would accept our client certificate, but its own is from another CA.
    const impostor = await startSandbox({
      port: 0,
      credentials,
      tls: { ca: material.ca.cert, cert: stranger.server.cert, key: stranger.server.key },
    });
    try {
      const files = await clientFiles('d', material.client);
      const r = runtime({
        ...files,
        PROBE_URL: `${impostor.mtlsUrl}/payments`,
        PROBE_CA_FILE: await writePem('d-ca.pem', material.ca.cert),
      });
      const refused = await failure(hello(r));
      expect(refused).toMatchObject({ type: FailureType.Misconfigured, nonRetryable: true });
      expect(refused.message).toBe(
        "probe.hello: token endpoint's TLS certificate not trusted (UNABLE_TO_VERIFY_LEAF_SIGNATURE): check the integration's CA",
      );
      expect(await stats(impostor)).toEqual({ tokens: 0, hellos: 0 });

      // Without a configured CA, Node's public roots apply: the throwaway CA is not among them either.
      const publicRoots = runtime(files);
      const untrusted = await failure(hello(publicRoots, probeDefaultRoots));
      expect(untrusted).toMatchObject({ type: FailureType.Misconfigured, nonRetryable: true });
      expect(untrusted.message).toContain('(SELF_SIGNED_CERT_IN_CHAIN)');
    } finally {
      await impostor.close();
    }
  });
});
