import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encryptionKeysFromEnv, generateEncryptionKey, parseEncryptionKeys } from '../codec/encryption-codec';
import { devCredentials } from '../devserver/dev-credentials';
import { startService, type ServiceProcess } from '../devserver/service-process';
import { startSftpServer, type SftpServer } from '../devserver/sftp-server';

/**
 * The project's processes around a Temporal server, as `npm start` (dev server) and `npm run cluster` (the
 * cluster) run them: the codec server, the webhook receiver, the provider sandbox (its document webhooks
 * to the receiver, its credentials random per start and shared with the workers) and the worker
 * processes, each logging to `<logDir>/<name>.log`. Ctrl-C (SIGINT) or SIGTERM stops every child, newest
 * first, then the server.
 */
export class DemoStack {
  readonly services: ServiceProcess[] = [];
  /** What else to stop (the bank's SFTP server), after the services. */
  private readonly cleanups: (() => Promise<void>)[] = [];
  private readonly credentials = devCredentials();
  private server: { stop(): Promise<void> } | undefined;
  private stopping: Promise<void> | undefined;

  constructor(
    readonly logDir: string,
    readonly say: (line: string) => void,
  ) {
    process.once('SIGINT', () => void this.stop().then(() => process.exit(130)));
    process.once('SIGTERM', () => void this.stop().then(() => process.exit(143)));
  }

  /** The Temporal server the stack runs on: stopped last. */
  setServer(server: { stop(): Promise<void> }): void {
    this.server = server;
  }

  /** Stops everything started, once (later calls wait for the first). */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.say('Stopping...');
      for (const s of [...this.services].reverse()) await s.stop();
      for (const cleanup of this.cleanups.reverse()) await cleanup().catch(() => undefined);
      await this.server?.stop();
      this.say('Stopped.');
    })();
    return this.stopping;
  }

  /** The codec server the Web UI decrypts payloads through (it needs no Temporal); returns its URL. */
  async startCodec(corsOrigins: string): Promise<string> {
    const codec = this.start('codec', 'src/codec/main.ts', 'codec.listening', {
      ...process.env,
      CODEC_CORS_ORIGINS: corsOrigins,
    });
    const ready = await codec.ready;
    this.say(
      `Codec server health ${String(ready.opsUrl)}/readyz, metrics ${String(ready.metricsUrl)}; auth: ${String(ready.auth)}`,
    );
    return String(ready.url);
  }

  /** The receiver, then the sandbox posting its webhooks to it; `env` says which Temporal to use. */
  async startReceiverAndSandbox(env: NodeJS.ProcessEnv, sandboxPort: number): Promise<{ sandboxUrl: string }> {
    const receiver = this.start('webhooks', 'src/webhooks/main.ts', 'receiver.listening', {
      ...env,
      ...this.credentials.receiverEnv,
    });
    const receiverReady = await receiver.ready;
    const receiverUrl = String(receiverReady.url);
    this.say(
      `Webhook receiver at ${receiverUrl}; health ${String(receiverReady.opsUrl)}/readyz, metrics ${String(receiverReady.metricsUrl)}`,
    );
    const sandbox = this.start('sandbox', 'src/sandbox/main.ts', 'sandbox.listening', {
      ...env,
      SANDBOX_PORT: String(sandboxPort),
      SANDBOX_WEBHOOK_TARGET: `${receiverUrl}/webhooks/documents`,
      ...this.credentials.sandboxEnv,
    });
    const sandboxUrl = String((await sandbox.ready).url);
    this.say(`Provider sandbox at ${sandboxUrl} (its document webhooks go to the receiver)`);
    return { sandboxUrl };
  }

  /** `count` worker processes calling the sandbox (one is named `worker`, several `worker-<n>`); waits until all poll. */
  async startWorkers(env: NodeJS.ProcessEnv, sandboxUrl: string, count: number): Promise<void> {
    const workers = Array.from({ length: count }, (_, i) =>
      this.start(count === 1 ? 'worker' : `worker-${i + 1}`, 'src/workers/main.ts', 'worker.ready', {
        ...env,
        ...this.credentials.integrationEnv(sandboxUrl),
      }),
    );
    const ready = await Promise.all(workers.map((w) => w.ready));
    ready.forEach((line, i) =>
      this.say(`${workers[i]!.name}: health ${String(line.health)}/readyz, metrics ${String(line.metrics)}`),
    );
  }

  /** The status page (src/status/main.ts): every integration's status, linking into the Web UI at `uiUrl`. */
  async startStatusPage(env: NodeJS.ProcessEnv, uiUrl: string | undefined): Promise<string> {
    const status = this.start('status', 'src/status/main.ts', 'status.listening', {
      ...env,
      ...(uiUrl ? { TEMPORAL_UI_URL: uiUrl } : {}),
    });
    const url = String((await status.ready).url);
    this.say(`Status page at ${url} (JSON at ${url}/api/status)`);
    return url;
  }

  /**
   * A bank's SFTP server for the payroll file exchange: OpenSSH's sshd on a loopback port with its own
   * config, host key and a chrooted key-only user (src/devserver/sftp-server.ts), when this machine can run
   * one (root, sshd installed); otherwise the demo leaves the exchange out and says how to get it.
   * Returns the server and the payroll integration's variables that point at it.
   */
  async startBankSftp(): Promise<{ server: SftpServer; env: NodeJS.ProcessEnv } | undefined> {
    const sshd = process.env.SSHD_PATH ?? '/usr/sbin/sshd';
    if (process.getuid?.() !== 0 || !existsSync(sshd)) {
      this.say(
        `Payroll file exchange (SFTP) left out: it needs root and OpenSSH's sshd at ${sshd} (apt-get install openssh-server)`,
      );
      return undefined;
    }
    const server = await startSftpServer(sshd);
    this.cleanups.push(() => server.close());
    this.say(`Bank SFTP server (sshd) at ${server.host}:${server.port}, files in ${server.root}`);
    return {
      server,
      env: {
        PAYROLL_SFTP_HOST: server.host,
        PAYROLL_SFTP_PORT: String(server.port),
        PAYROLL_SFTP_USERNAME: server.username,
        PAYROLL_SFTP_KEY_FILE: server.privateKeyFile,
        PAYROLL_SFTP_HOST_KEY: server.hostKeyFingerprint,
      },
    };
  }

  private start(name: string, entry: string, readyEvent: string, env: NodeJS.ProcessEnv): ServiceProcess {
    const service = startService({ name, entry, env, logFile: join(this.logDir, `${name}.log`), readyEvent });
    this.services.push(service);
    return service;
  }
}

/**
 * The payload encryption keys of this run, put in `process.env.PAYLOAD_ENCRYPTION_KEYS` for the demo client
 * and every child. Configured keys win; otherwise the key kept in `<dataDir>/payload-key` (mode 0600),
 * generated on the first run, so histories a server kept stay readable after a restart. Returns what it did.
 */
export function usePayloadKeys(dataDir: string): string {
  const configured = encryptionKeysFromEnv(process.env);
  if (configured) return `Payload encryption: configured keys (current: ${configured[0]!.id})`;
  const file = join(dataDir, 'payload-key');
  let created = false;
  if (!existsSync(file)) {
    mkdirSync(dataDir, { recursive: true });
    const id = `dev-${new Date().toISOString().slice(0, 10).replaceAll('-', '')}`;
    writeFileSync(file, `${generateEncryptionKey(id)}\n`, { mode: 0o600, flag: 'wx' });
    created = true;
  }
  chmodSync(file, 0o600);
  const spec = readFileSync(file, 'utf8').trim();
  const keys = parseEncryptionKeys(spec, file);
  process.env.PAYLOAD_ENCRYPTION_KEYS = spec;
  return `Payload encryption: key ${keys[0]!.id} ${created ? 'generated into' : 'from'} ${file}`;
}
