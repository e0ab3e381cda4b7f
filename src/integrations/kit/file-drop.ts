import type { Duration } from '@temporalio/common';
import { resolveProfile, type Profile, type ProfileName, type ProfileOverrides } from './profiles';
import type { EnvRef, SecretRef } from './refs';
import { validateSupport, type SupportSpec } from './support';

/**
 * Declaring a file-drop integration: a provider that exchanges files over SFTP (payroll, banking,
 * logistics) instead of JSON over HTTP. Declared with `defineIntegration` like the HTTP ones, with an
 * SFTP `transport` instead of a `baseUrl`, and file endpoints (`upload`, `awaitFile`) instead of HTTP
 * ones. The activities come from src/integrations/runtime/sftp/. Workflow-safe: data and validation only.
 */

export interface SftpTransportSpec {
  kind: 'sftp';
  host: EnvRef;
  /** @default 22 */
  port?: EnvRef | number;
  username: EnvRef;
  /** An OpenSSH or PEM private key (key-based auth only: no passwords). Prefer its `_FILE` form. */
  privateKey: SecretRef;
  /**
   * The server's pinned host key: its SHA-256 fingerprint as `ssh-keygen -l` prints it (`SHA256:<base64>`),
   * several separated by commas during a key rotation. A server presenting any other key is refused
   * (`Misconfigured`, not retried): unknown host keys are never accepted.
   */
  hostKey: EnvRef | SecretRef;
  /** TCP connect plus SSH handshake. @default 10 seconds */
  readyTimeout?: Duration;
}

export function sftp(options: Omit<SftpTransportSpec, 'kind'>): SftpTransportSpec {
  return { kind: 'sftp', ...options };
}

interface FileEndpointBase {
  /** The remote directory, relative to the login directory (e.g. `outbox/`). */
  dir: string;
  /** Largest file accepted, bytes. @default 10 MiB */
  maxBytes?: number;
  profile: ProfileName;
  overrides?: ProfileOverrides;
  description?: string;
}

/**
 * Upload a file under a name derived from the idempotency key the workflow passes (`stepKey`): written to
 * a temporary name, verified (size and SHA-256 of a re-read), then renamed into place. The final name is
 * checked first, so a resend after a lost answer never delivers twice.
 */
export interface UploadSpec extends FileEndpointBase {
  kind: 'upload';
  /** Appended to the derived name, e.g. `.csv`. */
  extension: string;
}

/**
 * Wait for an answer file: a directory polled with a durable cursor (the last entry examined, kept in the
 * activity's heartbeat so Temporal's retries resume from it: entries older than its modification time are
 * not examined again). The answer to a request is the first file named `<request's base name>.<anything>`
 * (the base name is the derived name without its extension). The provider must write answers with a
 * current modification time: a file whose mtime is older than one already examined is not seen.
 */
export interface AwaitFileSpec extends FileEndpointBase {
  kind: 'awaitFile';
  /**
   * When set, an answer counts only once its checksum sidecar (`<answer><suffix>`, holding its SHA-256 in
   * hex) is there too: the provider writes it last, so a file still being written is not taken, and a
   * content that does not match it is an `InvalidResponse`.
   */
  checksumSidecar?: string;
  /** Gap between checks (Temporal's retry interval for the check-once activity). @default 30 seconds */
  interval?: Duration;
}

export type FileEndpointSpec = UploadSpec | AwaitFileSpec;

type EndpointOptions<S> = Partial<Omit<S, 'kind' | 'dir'>>;

export function upload(dir: string, options: EndpointOptions<UploadSpec> = {}): UploadSpec {
  return { kind: 'upload', dir, extension: '', profile: 'background', ...options };
}

export function awaitFile(dir: string, options: EndpointOptions<AwaitFileSpec> = {}): AwaitFileSpec {
  return { kind: 'awaitFile', dir, profile: 'background', ...options };
}

export interface FileDropSpec<E extends Record<string, FileEndpointSpec>> {
  /** Lower-case identifier: names the task queue (`integration-<name>`) and activities (`<name><Endpoint>`). */
  name: string;
  version: string;
  purpose: string;
  owner: string;
  /** The provider's support contact and escalation phone (shown by the catalog and the status page). */
  support?: SupportSpec;
  transport: SftpTransportSpec;
  endpoints: E;
}

export type FileDropIntegration<E extends Record<string, FileEndpointSpec> = Record<string, FileEndpointSpec>> =
  FileDropSpec<E> & {
    kind: 'fileDrop';
    /** The activity type of an endpoint: an API, stored in histories. */
    activityName(endpoint: keyof E & string): string;
    profileOf(endpoint: keyof E & string): Profile;
  };

/** File-drop integrations by name (src/integrations/index.ts holds the project's). */
export type FileDropRegistry = Readonly<Record<string, FileDropIntegration>>;

export const DEFAULT_MAX_FILE_BYTES = 10 * 1024 * 1024;

const NAME = /^[a-z][a-z0-9]*$/;
const DIR = /^(?!\/)(?!.*\.\.)[A-Za-z0-9._/-]*$/;
const EXTENSION = /^(\.[A-Za-z0-9]+)*$/;

/** Checks a file-drop declaration up front; `fail(field, message)` throws. */
export function validateFileDrop(
  spec: FileDropSpec<Record<string, FileEndpointSpec>>,
  fail: (field: string, message: string) => never,
): void {
  if (!NAME.test(spec.name)) fail('name', 'lower-case letters and digits, starting with a letter');
  validateSupport(spec.support, fail);
  if (spec.transport.kind !== 'sftp') fail('transport', 'only sftp(...) is supported');
  if (typeof spec.transport.port === 'number' && !(spec.transport.port > 0 && spec.transport.port < 65536))
    fail('transport.port', 'a TCP port, 1-65535');
  if (Object.keys(spec.endpoints).length === 0) fail('endpoints', 'declare at least one');
  for (const [name, endpoint] of Object.entries(spec.endpoints)) {
    if (!DIR.test(endpoint.dir)) fail(`endpoints.${name}.dir`, 'a relative directory, no leading / and no ..');
    if (endpoint.maxBytes !== undefined && !(endpoint.maxBytes > 0))
      fail(`endpoints.${name}.maxBytes`, 'a positive number of bytes');
    if (endpoint.kind === 'upload' && !EXTENSION.test(endpoint.extension))
      fail(`endpoints.${name}.extension`, 'empty, or like .csv');
    if (
      endpoint.kind === 'awaitFile' &&
      endpoint.checksumSidecar !== undefined &&
      !EXTENSION.test(endpoint.checksumSidecar)
    )
      fail(`endpoints.${name}.checksumSidecar`, 'a suffix like .sha256');
  }
}

/** The declaration ready to use (called by `defineIntegration` for an SFTP transport). */
export function fileDropIntegration<E extends Record<string, FileEndpointSpec>>(
  spec: FileDropSpec<E>,
  fail: (field: string, message: string) => never,
): FileDropIntegration<E> {
  validateFileDrop(spec, fail);
  const capitalized = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
  return {
    ...spec,
    kind: 'fileDrop',
    activityName: (endpoint) => `${spec.name}${capitalized(endpoint)}`,
    profileOf: (endpoint) => resolveProfile(spec.endpoints[endpoint]!.profile, spec.endpoints[endpoint]!.overrides),
  };
}

/**
 * The remote file name of an upload, from the idempotency key (`<workflowId>:<step>`): the key made
 * file-safe, plus a short hash of the exact key (two keys that differ only in unsafe characters get
 * different names). Deterministic: every attempt, resend and reset of the step writes the same name.
 * Pure (FNV-1a), so workflows can compute it too.
 */
export function fileNameFor(key: string, extension = ''): string {
  const safe = key
    .replace(/[^A-Za-z0-9._-]+/g, '_')
    .replace(/^[._-]+/, '')
    .slice(0, 150);
  return `${safe}-${fnv1a(key)}${extension}`;
}

/** The base name answers are matched on: the request's file name without its extension. */
export function answerPrefixFor(key: string): string {
  return fileNameFor(key);
}

function fnv1a(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(16).padStart(8, '0');
}

/** The input of a file endpoint's activity. */
export interface UploadInput {
  /** The idempotency key the workflow derived (`stepKey`): names the file. */
  key: string;
  /** The file's content, base64. */
  contentBase64: string;
}

export interface UploadResult {
  /** The final remote path. */
  path: string;
  bytes: number;
  sha256: string;
  /** `uploaded` by this attempt, or `already-there`: an earlier attempt delivered it (a resend). */
  delivered: 'uploaded' | 'already-there';
}

export interface AwaitFileInput {
  /** The key of the request this answers (the upload's key). */
  key: string;
}

export interface AwaitFileResult {
  path: string;
  bytes: number;
  sha256: string;
  contentBase64: string;
}
