import { readMountedFile } from '../../config/mounted-file';
import type { EnvRef, SecretRef } from '../kit/refs';

/**
 * Resolves config references at call time. Secrets come from `<NAME>_FILE` (re-read whenever the file's
 * mtime changes: a rotated Kubernetes secret or vault-agent file takes effect without a restart) or
 * from the variable `<NAME>`. Every value handed out is remembered so logs can be scrubbed of it.
 */
export class SecretSource {
  private readonly seen = new Set<string>();

  constructor(private readonly env: NodeJS.ProcessEnv = process.env) {}

  /** Plain configuration (not secret). Throws `MissingConfigError` naming the variable. */
  value(ref: EnvRef | SecretRef): string {
    return ref.kind === 'secret' ? this.secret(ref) : this.plain(ref.name);
  }

  private plain(name: string): string {
    const value = this.env[name];
    if (!value)
      throw new MissingConfigError(`${name} is not set: set it in the worker's environment (see .env.example)`);
    return value;
  }

  private secret(ref: SecretRef): string {
    const file = this.env[`${ref.name}_FILE`];
    const value = file ? this.fromFile(ref.name, file) : this.env[ref.name];
    if (!value) {
      throw new MissingConfigError(
        `secret ${ref.name} is not set: set ${ref.name}_FILE to a mounted file (preferred) or ${ref.name} in the worker's environment`,
      );
    }
    this.remember(value);
    return value;
  }

  private fromFile(name: string, path: string): string {
    try {
      return readMountedFile(path, `${name}_FILE`).trim();
    } catch (err) {
      throw new MissingConfigError(`secret ${name}: ${(err as Error).message}`);
    }
  }

  /** Records a value (a secret, a fetched token) that must never appear in a log line. */
  remember(value: string): void {
    if (value.length >= 6) this.seen.add(value);
  }

  /** Every secret value handed out so far, for log scrubbing. */
  knownSecrets(): Iterable<string> {
    return this.seen;
  }
}

export class MissingConfigError extends Error {
  override readonly name = 'MissingConfigError';
}
