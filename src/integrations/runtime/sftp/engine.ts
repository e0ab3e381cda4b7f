import { createHash, randomBytes } from 'node:crypto';
import { posix } from 'node:path';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import SftpClient from 'ssh2-sftp-client';
import type { Logger } from '../../../observability/logger';
import { durationMs } from '../../kit/duration';
import { FailureType } from '../../kit/failures';
import {
  DEFAULT_MAX_FILE_BYTES,
  answerPrefixFor,
  fileNameFor,
  type AwaitFileInput,
  type AwaitFileResult,
  type AwaitFileSpec,
  type FileDropIntegration,
  type UploadInput,
  type UploadResult,
  type UploadSpec,
} from '../../kit/file-drop';
import { MissingConfigError, SecretSource } from '../secrets';
import { classifySftpError, failWith, SftpError, type SftpPhase } from './classify';

export interface FileDropEngineOptions {
  logger: Logger;
  secrets?: SecretSource;
  env?: NodeJS.ProcessEnv;
}

/** The durable cursor of an answer-file wait: the last directory entry examined (heartbeated). */
export interface AnswerCursor {
  modifyTime: number;
  name: string;
  checks: number;
}

type Activity = (input: never) => Promise<unknown>;

/**
 * Turns file-drop declarations (kit/file-drop.ts) into activities over SFTP (ssh2-sftp-client on ssh2):
 * one connection per activity attempt, host key pinned, key-based auth; every failure thrown as the
 * typed ApplicationFailure of the same table the HTTP calls use. Temporal owns retries and waiting.
 */
export class FileDropEngine {
  readonly secrets: SecretSource;
  private readonly logger: Logger;

  constructor(options: FileDropEngineOptions) {
    this.secrets = options.secrets ?? new SecretSource(options.env ?? process.env);
    this.logger = options.logger;
  }

  /** `<integration><Endpoint>` for each file endpoint. */
  activities(integration: FileDropIntegration): Record<string, Activity> {
    const activities: Record<string, Activity> = {};
    for (const [endpoint, spec] of Object.entries(integration.endpoints)) {
      const name = integration.activityName(endpoint);
      activities[name] =
        spec.kind === 'upload'
          ? (input: UploadInput) => this.run(integration, endpoint, (s) => this.upload(s, spec, input))
          : (input: AwaitFileInput) => this.run(integration, endpoint, (s) => this.checkForAnswer(s, spec, input));
    }
    return activities;
  }

  /** One attempt: connect (host key pinned), do the work, always disconnect; failures typed. */
  private async run<T>(
    integration: FileDropIntegration,
    endpoint: string,
    work: (s: Session) => Promise<T>,
  ): Promise<T> {
    const started = Date.now();
    const info = activityInfo();
    const log = this.logger.child({ integration: integration.name, endpoint, ...info });
    const session = new Session();
    try {
      const config = this.connectConfig(integration, session);
      session.phase = 'connect';
      await session.client.connect(config);
      const result = await work(session);
      log.info({ outcome: 'ok', durationMs: Date.now() - started, result: summary(result) }, 'file-drop call');
      return result;
    } catch (err) {
      if (err instanceof ApplicationFailure) throw err; // already typed (NotReady)
      const failure =
        err instanceof MissingConfigError
          ? { type: FailureType.Misconfigured, message: err.message, retryable: false }
          : classifySftpError(err, session.phase, session.hostKeyRejected);
      log.warn(
        { outcome: failure.type, durationMs: Date.now() - started, phase: session.phase, code: failure.code },
        `file-drop call failed: ${this.scrub(failure.message)}`,
      );
      throw ApplicationFailure.create({
        type: failure.type,
        message: `${integration.name}.${endpoint}: ${this.scrub(failure.message)}`,
        nonRetryable: !failure.retryable,
        details: [{ integration: integration.name, endpoint, phase: session.phase, attempt: info.attempt }],
      });
    } finally {
      await session.client.end().catch(() => undefined);
    }
  }

  private connectConfig(integration: FileDropIntegration, session: Session): SftpClient.ConnectOptions {
    const t = integration.transport;
    const port = typeof t.port === 'number' ? t.port : t.port ? Number(this.secrets.value(t.port)) : 22;
    if (!Number.isInteger(port) || port <= 0 || port > 65535)
      throw failWith(FailureType.Misconfigured, `${integration.name}: port "${String(port)}" is not a TCP port`, false);
    const pinned = parseFingerprints(this.secrets.value(t.hostKey));
    if (pinned.length === 0)
      throw failWith(
        FailureType.Misconfigured,
        `${t.hostKey.name}: expected the host key's SHA-256 fingerprint (SHA256:<base64>, as ssh-keygen -l prints it)`,
        false,
      );
    return {
      host: this.secrets.value(t.host),
      port,
      username: this.secrets.value(t.username),
      privateKey: this.secrets.value(t.privateKey),
      readyTimeout: durationMs(t.readyTimeout ?? '10 seconds'),
      // Only key auth; never a password or an agent, never an unknown host key.
      tryKeyboard: false,
      hostVerifier: (key: Buffer) => {
        const fingerprint = sha256Fingerprint(key);
        const ok = pinned.includes(fingerprint);
        if (!ok) {
          session.hostKeyRejected = true;
          session.presentedKey = fingerprint;
        }
        return ok;
      },
    };
  }

  /**
   * Upload: final name first (a resend after a lost answer finds it and delivers nothing), else write
   * `.<name>.<random>.part`, check its size and the SHA-256 of a re-read, and rename it into place. A
   * partial `.part` left by a crashed attempt is never the final name, and the next attempt deletes it.
   */
  private async upload(s: Session, spec: UploadSpec, input: UploadInput): Promise<UploadResult> {
    if (!input?.key)
      throw failWith(FailureType.Misconfigured, 'an upload needs the key the workflow derived (stepKey)', false);
    const content = Buffer.from(input.contentBase64 ?? '', 'base64');
    const max = spec.maxBytes ?? DEFAULT_MAX_FILE_BYTES;
    if (content.length > max)
      throw failWith(
        FailureType.RequestRejected,
        `the file is ${content.length} bytes, above the cap of ${max}`,
        false,
      );
    const sha256 = sha256Hex(content);
    const name = fileNameFor(input.key, spec.extension);
    const path = posix.join(spec.dir, name);
    // A temp name of its own per attempt: a session cut mid-write may still flush into its file for a
    // moment, and must never write into the inode this attempt renames into place.
    const temp = posix.join(spec.dir, `.${name}.${randomBytes(6).toString('hex')}.part`);

    s.phase = 'check';
    const existing = await this.existingDelivery(s, path, content.length, sha256, max);
    if (existing) {
      await this.removeTemps(s, spec.dir, name);
      return existing;
    }
    await this.removeTemps(s, spec.dir, name); // partial files of crashed attempts: never delivered

    s.phase = 'write';
    await s.client.put(content, temp);
    const written = await s.client.stat(temp);
    const reread = written.size === content.length ? await s.client.get(temp) : undefined;
    if (!Buffer.isBuffer(reread) || sha256Hex(reread) !== sha256) {
      await s.client.delete(temp, true).catch(() => undefined);
      throw failWith(
        FailureType.InvalidResponse,
        `the uploaded copy does not match (${written.size} of ${content.length} bytes, or a different SHA-256): removed, to be resent`,
        true,
      );
    }
    try {
      // Plain SFTP rename refuses to replace an existing file: two racing attempts cannot both deliver.
      await s.client.rename(temp, path);
    } catch (err) {
      const raced = await this.existingDelivery(s, path, content.length, sha256, max).catch(() => undefined);
      if (raced) {
        await s.client.delete(temp, true).catch(() => undefined);
        return raced;
      }
      throw err;
    }
    await this.removeTemps(s, spec.dir, name).catch(() => undefined);
    return { path, bytes: content.length, sha256, delivered: 'uploaded' };
  }

  /** Deletes the temp files (`.<name>.<random>.part`) earlier attempts left behind. */
  private async removeTemps(s: Session, dir: string, name: string): Promise<void> {
    const temps = (await s.client.list(dir)).filter((e) => e.name.startsWith(`.${name}.`) && e.name.endsWith('.part'));
    for (const t of temps) await s.client.delete(posix.join(dir, t.name), true);
  }

  /** The final name, when it is there: the same content (already delivered), or a different one (refused). */
  private async existingDelivery(
    s: Session,
    path: string,
    bytes: number,
    sha256: string,
    max: number,
  ): Promise<UploadResult | undefined> {
    const kind = await s.client.exists(path);
    if (kind === false) return undefined;
    const stat = await s.client.stat(path);
    if (kind === '-' && stat.size === bytes && stat.size <= max) {
      const there = await s.client.get(path);
      if (Buffer.isBuffer(there) && sha256Hex(there) === sha256)
        return { path, bytes, sha256, delivered: 'already-there' };
    }
    throw failWith(
      FailureType.RequestRejected,
      `${path} already exists with other content: it was delivered by a different request under this key`,
      false,
    );
  }

  /**
   * One check for the answer to `input.key`: entries not older than the cursor, in (mtime, name) order; the
   * first whose name is the request's base name (plus a suffix) is the answer. Nothing yet: the cursor
   * is heartbeated (the next attempt resumes from it) and the attempt fails `NotReady`, so Temporal's
   * retries do the waiting and the activity's schedule-to-close is the deadline.
   */
  private async checkForAnswer(s: Session, spec: AwaitFileSpec, input: AwaitFileInput): Promise<AwaitFileResult> {
    if (!input?.key) throw failWith(FailureType.Misconfigured, 'an answer wait needs the request key', false);
    const ctx = Context.current();
    const cursor: AnswerCursor = (ctx.info.heartbeatDetails as AnswerCursor | undefined) ?? {
      modifyTime: 0,
      name: '',
      checks: 0,
    };
    const prefix = answerPrefixFor(input.key);
    const sidecar = spec.checksumSidecar;
    const max = spec.maxBytes ?? DEFAULT_MAX_FILE_BYTES;
    s.phase = 'read';
    const entries = (await s.client.list(spec.dir))
      .filter((e) => e.type === '-' && !e.name.startsWith('.'))
      .sort((a, b) => a.modifyTime - b.modifyTime || a.name.localeCompare(b.name));
    const names = new Set(entries.map((e) => e.name));
    let next = cursor;
    for (const entry of entries) {
      // Older than the cursor: examined by an earlier check. The cursor's own second is examined again
      // (mtimes have a granularity of a second; a file written in it may have come after the last check).
      if (entry.modifyTime < cursor.modifyTime) continue;
      const isAnswer =
        (entry.name === prefix || entry.name.startsWith(`${prefix}.`)) && !(sidecar && entry.name.endsWith(sidecar));
      if (!isAnswer) {
        next = { ...next, modifyTime: entry.modifyTime, name: entry.name };
        continue;
      }
      // An answer whose sidecar is not there yet may still be being written: not taken, not passed.
      if (sidecar && !names.has(`${entry.name}${sidecar}`)) break;
      const path = posix.join(spec.dir, entry.name);
      if (entry.size > max)
        throw failWith(FailureType.ResponseTooLarge, `${path} is ${entry.size} bytes, above the cap of ${max}`, false);
      const content = await s.client.get(path);
      if (!Buffer.isBuffer(content)) throw failWith(FailureType.InvalidResponse, `${path}: not a file`, false);
      const sha256 = sha256Hex(content);
      if (sidecar) {
        const sidecarContent = await s.client.get(`${path}${sidecar}`);
        const expected = (Buffer.isBuffer(sidecarContent) ? sidecarContent.toString('utf8') : '')
          .trim()
          .split(/\s+/)[0]
          ?.toLowerCase();
        if (expected !== sha256)
          throw failWith(
            FailureType.InvalidResponse,
            `${path}: its SHA-256 does not match ${entry.name}${sidecar}`,
            false,
          );
      }
      return { path, bytes: content.length, sha256, contentBase64: content.toString('base64') };
    }
    ctx.heartbeat({ ...next, checks: cursor.checks + 1 } satisfies AnswerCursor);
    throw ApplicationFailure.create({
      type: FailureType.NotReady,
      message: `no answer to ${prefix} in ${spec.dir} yet (check ${cursor.checks + 1})`,
    });
  }

  /** Messages may quote what the library said; no secret value the process knows may pass. */
  private scrub(message: string): string {
    let out = message;
    for (const value of this.secrets.knownSecrets()) out = out.split(value).join('[redacted]');
    return out;
  }
}

class Session {
  readonly client = new SftpClient();
  phase: SftpPhase = 'connect';
  hostKeyRejected = false;
  presentedKey?: string;
}

/** `SHA256:<base64, no padding>` of a raw host key, as `ssh-keygen -l` and OpenSSH print it. */
export function sha256Fingerprint(key: Buffer): string {
  return `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`;
}

export function parseFingerprints(value: string): string[] {
  return value
    .split(',')
    .map((v) => v.trim().replace(/=+$/, ''))
    .filter((v) => /^SHA256:[A-Za-z0-9+/]{43}$/.test(v));
}

export function sha256Hex(content: Buffer): string {
  return createHash('sha256').update(content).digest('hex');
}

function activityInfo(): { attempt: number; workflowId?: string; activityId?: string } {
  try {
    const info = Context.current().info;
    return { attempt: info.attempt, workflowId: info.workflowExecution?.workflowId, activityId: info.activityId };
  } catch {
    return { attempt: 1 };
  }
}

/** What is logged of a result: never the content. */
function summary(result: unknown): unknown {
  if (result && typeof result === 'object' && 'path' in result) {
    const r = result as { path: string; bytes: number; sha256: string; delivered?: string };
    return { path: r.path, bytes: r.bytes, sha256: r.sha256, delivered: r.delivered };
  }
  return undefined;
}

export { SftpError };
