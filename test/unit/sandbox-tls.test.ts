import { spawn } from 'node:child_process';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import {
  OpensslError,
  createCertificateAuthority,
  generateTlsMaterial,
  issueCertificate,
  tlsFileNames,
  writeTlsMaterial,
  type TlsMaterial,
} from '../../src/sandbox/tls';

const root = join(__dirname, '..', '..');
const serverAuth = '1.3.6.1.5.5.7.3.1';
const clientAuth = '1.3.6.1.5.5.7.3.2';
const day = 24 * 60 * 60 * 1000;

let material: TlsMaterial;
let other: TlsMaterial;
let dir: string;

beforeAll(async () => {
  [material, other] = await Promise.all([generateTlsMaterial(), generateTlsMaterial()]);
  dir = await mkdtemp(join(tmpdir(), 'sandbox-tls-test-'));
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('throwaway TLS material (src/sandbox/tls.ts)', () => {
  it('makes a CA, a loopback server certificate and a client certificate that parse and chain to the CA', () => {
    const ca = new X509Certificate(material.ca.cert);
    const server = new X509Certificate(material.server.cert);
    const client = new X509Certificate(material.client.cert);

    expect(ca.ca).toBe(true);
    expect(ca.verify(ca.publicKey)).toBe(true); // self-signed
    expect(server.ca).toBe(false);
    expect(client.ca).toBe(false);
    expect(server.verify(ca.publicKey)).toBe(true);
    expect(client.verify(ca.publicKey)).toBe(true);
    expect(client.checkIssued(ca)).toBe(true);

    expect(server.subjectAltName?.split(', ')).toEqual(
      expect.arrayContaining(['IP Address:127.0.0.1', 'DNS:localhost']),
    );
    expect(server.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(server.checkHost('localhost')).toBe('localhost');
    expect(server.keyUsage).toEqual([serverAuth]);
    expect(client.keyUsage).toEqual([clientAuth]);
    expect(client.subject).toBe('CN=sandbox-client');
  });

  it('pairs each certificate with its EC P-256 key', () => {
    for (const pair of [material.ca, material.server, material.client]) {
      const key = createPrivateKey(pair.key);
      expect(key.asymmetricKeyType).toBe('ec');
      expect(key.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
      expect(new X509Certificate(pair.cert).checkPrivateKey(key)).toBe(true);
    }
  });

  it('issues certificates that are valid now and for two days at most', () => {
    const now = Date.now();
    for (const pem of [material.ca.cert, material.server.cert, material.client.cert]) {
      const cert = new X509Certificate(pem);
      const from = Date.parse(cert.validFrom);
      const to = Date.parse(cert.validTo);
      expect(from).toBeLessThanOrEqual(now);
      expect(to).toBeGreaterThan(now + day);
      expect(to - from).toBeLessThanOrEqual(2 * day);
    }
  });

  it('makes a different CA every time: its certificates do not verify against another', () => {
    const ca = new X509Certificate(material.ca.cert);
    const otherCa = new X509Certificate(other.ca.cert);
    expect(otherCa.subject).not.toBe(ca.subject);
    expect(new X509Certificate(other.client.cert).verify(ca.publicKey)).toBe(false);
    expect(new X509Certificate(material.client.cert).verify(otherCa.publicKey)).toBe(false);
    expect(new X509Certificate(other.client.cert).serialNumber).not.toBe(
      new X509Certificate(material.client.cert).serialNumber,
    );
  });

  it('issues further certificates from an existing CA', async () => {
    const ca = await createCertificateAuthority({ commonName: 'unit test CA', days: 1 });
    const server = await issueCertificate(ca, {
      commonName: 'api.test',
      usage: 'server',
      hosts: ['api.test', '::1'],
      days: 1,
    });
    const cert = new X509Certificate(server.cert);
    expect(cert.verify(new X509Certificate(ca.cert).publicKey)).toBe(true);
    expect(cert.subjectAltName).toBe('DNS:api.test, IP Address:0:0:0:0:0:0:0:1');
    for (const c of [cert, new X509Certificate(ca.cert)]) {
      expect(Date.parse(c.validTo) - Date.parse(c.validFrom)).toBeLessThanOrEqual(day);
    }
  });

  it('refuses names openssl would misread', async () => {
    await expect(issueCertificate(material.ca, { commonName: 'x/CN=evil', usage: 'client' })).rejects.toThrow(
      /unsupported characters/,
    );
    await expect(
      issueCertificate(material.ca, { commonName: 'x', usage: 'server', hosts: ['a.test, DNS:evil.test'] }),
    ).rejects.toThrow(/not a DNS name or an IP address/);
  });

  it('names openssl when it cannot be found', async () => {
    const missing = generateTlsMaterial({ openssl: join(dir, 'no-such-openssl') });
    await expect(missing).rejects.toThrow(OpensslError);
    await expect(missing).rejects.toThrow(/openssl not found .*install it/);
  });

  it('writes the files a worker needs, keys readable by the owner only, and never the CA key', async () => {
    const out = join(dir, 'written');
    const files = await writeTlsMaterial(out, material);
    expect((await readdir(out)).sort()).toEqual(Object.values(tlsFileNames).sort());
    expect(await readFile(files.ca, 'utf8')).toBe(material.ca.cert);
    expect(await readFile(files.serverCert, 'utf8')).toBe(material.server.cert);
    expect(await readFile(files.clientKey, 'utf8')).toBe(material.client.key);
    expect(statSync(files.serverKey).mode & 0o777).toBe(0o600);
    expect(statSync(files.clientKey).mode & 0o777).toBe(0o600);
    for (const file of await readdir(out)) {
      expect(await readFile(join(out, file), 'utf8')).not.toContain(material.ca.key);
    }
  });
});

describe('sandbox process with SANDBOX_MTLS_DIR', () => {
  it('generates the certificates there, announces mtlsUrl and serves it to the generated client only', async () => {
    const certDir = join(dir, 'main');
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/sandbox/main.ts'], {
      cwd: root,
      env: { ...process.env, SANDBOX_PORT: '0', SANDBOX_MTLS_DIR: certDir },
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (err += d.toString('utf8')));
    const agents: Agent[] = [];
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', () => out.includes('\n') && resolve());
        child.once('exit', (code) => reject(new Error(`sandbox exited (${code}): ${err}`)));
      });
      const ready = JSON.parse(out.trim()) as { event: string; url: string; mtlsUrl: string };
      expect(ready).toEqual({
        event: 'sandbox.listening',
        url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/) as unknown,
        mtlsUrl: expect.stringMatching(/^https:\/\/127\.0\.0\.1:\d+$/) as unknown,
      });
      for (const name of Object.values(tlsFileNames)) expect(existsSync(join(certDir, name))).toBe(true);
      expect(statSync(join(certDir, tlsFileNames.serverKey)).mode & 0o777).toBe(0o600);
      expect(statSync(join(certDir, tlsFileNames.clientKey)).mode & 0o777).toBe(0o600);

      const pem = (name: keyof typeof tlsFileNames) => readFile(join(certDir, tlsFileNames[name]), 'utf8');
      const ca = await pem('ca');
      const withCert = new Agent({ connect: { ca, cert: await pem('clientCert'), key: await pem('clientKey') } });
      const withoutCert = new Agent({ connect: { ca } });
      agents.push(withCert, withoutCert);

      const res = await request(`${ready.mtlsUrl}/healthz`, { dispatcher: withCert });
      expect(res.statusCode).toBe(200);
      expect(await res.body.json()).toEqual({ ok: true });
      await expect(request(`${ready.mtlsUrl}/healthz`, { dispatcher: withoutCert })).rejects.toThrow();
      expect(err).toContain(`Sandbox mTLS listening on ${ready.mtlsUrl}`);
    } finally {
      await Promise.all(agents.map((a) => a.close()));
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
    }
  }, 30_000);
});
