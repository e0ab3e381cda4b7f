import { FailureType } from '../../kit/failures';

/**
 * What an SFTP failure means, in the failure types every integration uses (kit/failures.ts). The phase
 * says how far the attempt got: a connection lost after the upload started may have delivered the file
 * (`OutcomeUnknown`: the next attempt checks the final name first, so resending is safe), the same loss
 * before anything was written is a plain `NetworkError`.
 */
export type SftpPhase = 'connect' | 'check' | 'write' | 'read';

export interface SftpFailure {
  type: FailureType;
  message: string;
  retryable: boolean;
  code?: string;
}

export class SftpError extends Error {
  override readonly name = 'SftpError';
  constructor(readonly failure: SftpFailure) {
    super(failure.message);
  }
}

export const failWith = (type: FailureType, message: string, retryable: boolean): SftpError =>
  new SftpError({ type, message, retryable });

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ETIMEDOUT']);
// SFTP status codes (draft-ietf-secsh-filexfer): 2 no such file, 3 permission denied, 4 failure.
const SFTP_NO_SUCH_FILE = 2;
const SFTP_PERMISSION_DENIED = 3;

/**
 * The ordered table: the first rule that matches wins.
 * `hostKeyRejected`: our `hostVerifier` refused the server's key (set before ssh2 reports the disconnect).
 */
export function classifySftpError(err: unknown, phase: SftpPhase, hostKeyRejected: boolean): SftpFailure {
  if (err instanceof SftpError) return err.failure;
  const e = err as { code?: unknown; message?: string; level?: string };
  const code = typeof e.code === 'string' || typeof e.code === 'number' ? String(e.code) : undefined;
  const message = e.message ?? String(err);
  const at = (type: FailureType, retryable: boolean, why: string): SftpFailure => ({
    type,
    retryable,
    code,
    message: `${why} (${phase}: ${message})`,
  });
  // 1. A host key that is not the pinned one: a configuration problem (or an attack); never retried.
  if (hostKeyRejected)
    return at(FailureType.Misconfigured, false, 'the server presented a host key that is not pinned');
  // 2. The server refused our key.
  if (e.level === 'client-authentication' || /authentication methods failed|ERR_BAD_AUTH/i.test(`${message} ${code}`))
    return at(FailureType.Unauthorized, false, 'the server refused the key');
  // 3. The private key itself cannot be parsed.
  if (/Cannot parse privateKey|Unsupported key format|privateKey value/i.test(message))
    return at(FailureType.Misconfigured, false, 'the private key cannot be used');
  // 4. Nothing reached the server.
  if (phase === 'connect' && (code === undefined || NETWORK_CODES.has(code) || /timed out|refused/i.test(message)))
    return at(FailureType.NetworkError, true, 'could not connect');
  // 5. SFTP status answers: the server is up and said no.
  if (code === String(SFTP_NO_SUCH_FILE) || code === 'ENOENT')
    return at(FailureType.NotFound, false, 'no such file or directory');
  if (code === String(SFTP_PERMISSION_DENIED) || code === 'EACCES')
    return at(FailureType.RequestRejected, false, 'permission denied');
  // 6. The connection went away mid-operation: after bytes were written, the file may be complete.
  if (phase === 'write') return at(FailureType.OutcomeUnknown, true, 'connection lost after the upload started');
  if (phase === 'read') return at(FailureType.Timeout, true, 'connection lost while reading');
  return at(FailureType.NetworkError, true, 'connection lost before anything was written');
}
