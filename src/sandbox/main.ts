import { runServer } from '../process/lifecycle';
import { randomBytes } from 'node:crypto';
import { sandboxCredentialsOf } from './credentials';
import { startSandbox } from './server';
import { generateTlsMaterial, writeTlsMaterial } from './tls';
import type { SandboxCredentials, SandboxTls } from './types';

/** Process entry: `npx tsx src/sandbox/main.ts`. Prints one JSON line on stdout once listening; never prints secrets. */

function readCredentials(env: NodeJS.ProcessEnv): { credentials: SandboxCredentials; generated: string[] } {
  const generated: string[] = [];
  const value = (name: string): string => {
    const set = env[name];
    if (set !== undefined && set !== '') return set;
    generated.push(name);
    return randomBytes(24).toString('base64url');
  };
  const credentials = sandboxCredentialsOf(value);
  return { credentials, generated };
}

function readPort(raw: string | undefined): number {
  if (raw === undefined || raw === '') return 0;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`SANDBOX_PORT must be an integer in [0, 65535], got "${raw}"`);
  }
  return port;
}

/**
 * With SANDBOX_MTLS_DIR: a fresh throwaway CA, server and client certificate on every start, written there
 * (ca.pem, server.pem, server-key.pem, client.pem, client-key.pem) for the workers to use.
 */
async function prepareTls(dir: string | undefined): Promise<SandboxTls | undefined> {
  if (dir === undefined || dir === '') return undefined;
  const material = await generateTlsMaterial();
  await writeTlsMaterial(dir, material);
  return { ca: material.ca.cert, cert: material.server.cert, key: material.server.key };
}

async function main(): Promise<{ close(): Promise<void> }> {
  const { credentials, generated } = readCredentials(process.env);
  const webhookTarget = process.env.SANDBOX_WEBHOOK_TARGET;
  const mtlsDir = process.env.SANDBOX_MTLS_DIR;
  const tls = await prepareTls(mtlsDir);
  const sandbox = await startSandbox({
    port: readPort(process.env.SANDBOX_PORT),
    credentials,
    ...(webhookTarget ? { webhookTarget } : {}),
    ...(tls ? { tls } : {}),
  });
  const ready = {
    event: 'sandbox.listening',
    url: sandbox.url,
    ...(sandbox.mtlsUrl ? { mtlsUrl: sandbox.mtlsUrl } : {}),
  };
  process.stdout.write(`${JSON.stringify(ready)}\n`);
  process.stderr.write(`Sandbox listening on ${sandbox.url}\n`);
  if (sandbox.mtlsUrl) {
    process.stderr.write(`Sandbox mTLS listening on ${sandbox.mtlsUrl}; certificates in ${mtlsDir}\n`);
  }
  // Names only: a generated value is useless to anyone but this process, and must stay that way.
  if (generated.length > 0) process.stderr.write(`Generated random values for unset ${generated.join(', ')}\n`);

  return sandbox;
}

runServer('Sandbox', main);
