import { execFile } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Throwaway certificates for development and tests: a CA, a server certificate for loopback and a
 * client certificate, all generated on demand and never committed. Keys are EC P-256 (made by Node);
 * Node cannot issue X.509 certificates, so the `openssl` CLI signs them, in a private temp directory
 * that is removed afterwards.
 */

/** A certificate and its private key, both PEM. */
export interface KeyPair {
  cert: string;
  key: string;
}

export interface TlsMaterial {
  /** Signs the other two; its key exists only in memory and is never written by {@link writeTlsMaterial}. */
  ca: KeyPair;
  /** For the mTLS server: SAN covers `hosts` (default `127.0.0.1`, `::1`, `localhost`). */
  server: KeyPair;
  /** For the client side of mTLS (extendedKeyUsage clientAuth). */
  client: KeyPair;
}

export interface TlsOptions {
  /** Validity of every certificate, in days. @default 2 */
  days?: number;
  /** Host names and IP addresses the server certificate is valid for. @default ['127.0.0.1', '::1', 'localhost'] */
  hosts?: string[];
  /** Common name of the client certificate. @default 'sandbox-client' */
  clientName?: string;
  /** The openssl binary. @default 'openssl' (from PATH) */
  openssl?: string;
}

export interface IssueOptions {
  commonName: string;
  /** `server` certificates carry SANs and serverAuth; `client` certificates carry clientAuth. */
  usage: 'server' | 'client';
  /** Server SANs (required for `server`). */
  hosts?: string[];
  /** @default 2 */
  days?: number;
  /** @default 'openssl' */
  openssl?: string;
}

/** File names written by {@link writeTlsMaterial}, relative to its directory. */
export const tlsFileNames = {
  ca: 'ca.pem',
  serverCert: 'server.pem',
  serverKey: 'server-key.pem',
  clientCert: 'client.pem',
  clientKey: 'client-key.pem',
} as const;

export type TlsFiles = Record<keyof typeof tlsFileNames, string>;

export class OpensslError extends Error {
  override readonly name = 'OpensslError';
}

const DEFAULT_DAYS = 2;
const DEFAULT_HOSTS = ['127.0.0.1', '::1', 'localhost'];

/** A fresh CA with a server and a client certificate signed by it. */
export async function generateTlsMaterial(options: TlsOptions = {}): Promise<TlsMaterial> {
  const common = { days: options.days, openssl: options.openssl };
  // A distinct name per CA: two throwaway CAs must never look alike to a verifier (or to a human reading an error).
  const ca = await createCertificateAuthority({
    ...common,
    commonName: `durable-integrations sandbox CA ${randomBytes(4).toString('hex')}`,
  });
  const server = await issueCertificate(ca, {
    ...common,
    commonName: 'durable-integrations sandbox',
    usage: 'server',
    hosts: options.hosts ?? DEFAULT_HOSTS,
  });
  const client = await issueCertificate(ca, {
    ...common,
    commonName: options.clientName ?? 'sandbox-client',
    usage: 'client',
  });
  return { ca, server, client };
}

/** A self-signed CA certificate (basicConstraints CA:TRUE, pathlen 0). */
export async function createCertificateAuthority(
  options: { commonName?: string; days?: number; openssl?: string } = {},
): Promise<KeyPair> {
  const key = newKey();
  const cert = await withTempDir(async (dir) => {
    const config = join(dir, 'openssl.cnf');
    await writePrivate(
      config,
      opensslConfig([
        'basicConstraints = critical, CA:TRUE, pathlen:0',
        'keyUsage = critical, keyCertSign, cRLSign',
        'subjectKeyIdentifier = hash',
      ]),
    );
    await writePrivate(join(dir, 'ca-key.pem'), key);
    await openssl(options.openssl, dir, config, [
      'req',
      '-config',
      config,
      '-new',
      '-x509',
      '-key',
      'ca-key.pem',
      '-subj',
      subject(options.commonName ?? 'durable-integrations throwaway CA'),
      '-days',
      String(validDays(options.days)),
      '-sha256',
      '-set_serial',
      serial(),
      '-extensions',
      'ext',
      '-out',
      'ca.pem',
    ]);
    return readFile(join(dir, 'ca.pem'), 'utf8');
  });
  return { cert, key };
}

/** A leaf certificate with a new key, signed by `ca`. */
export async function issueCertificate(ca: KeyPair, options: IssueOptions): Promise<KeyPair> {
  const extensions =
    options.usage === 'server'
      ? ['extendedKeyUsage = serverAuth', `subjectAltName = ${subjectAltName(options.hosts ?? [])}`]
      : ['extendedKeyUsage = clientAuth'];
  const key = newKey();
  const cert = await withTempDir(async (dir) => {
    const config = join(dir, 'openssl.cnf');
    await writePrivate(
      config,
      opensslConfig([
        'basicConstraints = critical, CA:FALSE',
        'keyUsage = critical, digitalSignature',
        'subjectKeyIdentifier = hash',
        'authorityKeyIdentifier = keyid',
        ...extensions,
      ]),
    );
    await writePrivate(join(dir, 'ca.pem'), ca.cert);
    await writePrivate(join(dir, 'ca-key.pem'), ca.key);
    await writePrivate(join(dir, 'leaf-key.pem'), key);
    const run = (args: string[]) => openssl(options.openssl, dir, config, args);
    await run([
      'req',
      '-config',
      config,
      '-new',
      '-key',
      'leaf-key.pem',
      '-subj',
      subject(options.commonName),
      '-out',
      'leaf.csr',
    ]);
    await run([
      'x509',
      '-req',
      '-in',
      'leaf.csr',
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca-key.pem',
      '-set_serial',
      serial(),
      '-days',
      String(validDays(options.days)),
      '-sha256',
      '-extfile',
      config,
      '-extensions',
      'ext',
      '-out',
      'leaf.pem',
    ]);
    return readFile(join(dir, 'leaf.pem'), 'utf8');
  });
  return { cert, key };
}

/**
 * Writes the CA certificate, the server pair and the client pair into `dir` (created if needed) under
 * {@link tlsFileNames}; private keys get mode 0600. The CA key is not written: nothing can be signed later.
 */
export async function writeTlsMaterial(dir: string, material: TlsMaterial): Promise<TlsFiles> {
  await mkdir(dir, { recursive: true });
  const files = Object.fromEntries(
    Object.entries(tlsFileNames).map(([name, file]) => [name, join(dir, file)]),
  ) as TlsFiles;
  await writeFile(files.ca, material.ca.cert, { mode: 0o644 });
  await writeFile(files.serverCert, material.server.cert, { mode: 0o644 });
  await writeFile(files.clientCert, material.client.cert, { mode: 0o644 });
  await writePrivate(files.serverKey, material.server.key);
  await writePrivate(files.clientKey, material.client.key);
  return files;
}

function newKey(): string {
  return generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({
    type: 'pkcs8',
    format: 'pem',
  }) as string;
}

/** Writes with mode 0600, also when the file already existed (writeFile's mode applies only on creation). */
async function writePrivate(path: string, content: string): Promise<void> {
  await writeFile(path, content, { mode: 0o600 });
  await chmod(path, 0o600);
}

async function withTempDir<T>(work: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'sandbox-tls-')); // mode 0700
  try {
    return await work(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A self-contained config, so the system's openssl.cnf (and whatever it enables) plays no part. */
function opensslConfig(extensions: string[]): string {
  return ['[req]', 'distinguished_name = dn', 'prompt = no', '[dn]', '[ext]', ...extensions, ''].join('\n');
}

function subject(commonName: string): string {
  if (!/^[\w .:@-]+$/.test(commonName))
    throw new TypeError(`common name ${JSON.stringify(commonName)} has unsupported characters`);
  return `/CN=${commonName}`;
}

function subjectAltName(hosts: string[]): string {
  if (hosts.length === 0) throw new TypeError('a server certificate needs at least one host');
  return hosts
    .map((h) => {
      if (isIP(h)) return `IP:${h}`;
      if (!/^[a-z0-9.-]+$/i.test(h))
        throw new TypeError(`host ${JSON.stringify(h)} is not a DNS name or an IP address`);
      return `DNS:${h}`;
    })
    .join(', ');
}

function validDays(days: number | undefined): number {
  const d = days ?? DEFAULT_DAYS;
  if (!Number.isInteger(d) || d < 1 || d > 30) throw new RangeError(`days must be an integer in [1, 30], got ${d}`);
  return d;
}

/** 127 random bits, positive (RFC 5280 serials are unique and positive). */
function serial(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! & 0x7f) | 0x01;
  return `0x${bytes.toString('hex')}`;
}

function openssl(binary: string | undefined, cwd: string, config: string, args: string[]): Promise<void> {
  const bin = binary ?? 'openssl';
  return new Promise((resolve, reject) => {
    execFile(
      bin,
      args,
      { cwd, env: { ...process.env, OPENSSL_CONF: config }, timeout: 30_000 },
      (err, _stdout, stderr) => {
        if (!err) return resolve();
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
          return reject(
            new OpensslError(
              `openssl not found (tried "${bin}"): the sandbox's mTLS certificates are made with the openssl CLI; install it (e.g. apt-get install openssl) or put it on PATH`,
            ),
          );
        }
        reject(new OpensslError(`openssl ${args[0]} failed: ${String(stderr).trim() || err.message}`));
      },
    );
  });
}
