import { readMountedFile } from '../config/mounted-file';

/** The current secrets of a provider: read on each request so a rotated file applies without a restart. */
export type SecretList = () => readonly string[];

function split(raw: string): string[] {
  return raw
    .split(/[,\n\r]+/)
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/**
 * Secrets from `<NAME>_FILE` (a mounted file, one secret per line or comma-separated; re-read whenever
 * its mtime changes) or else from `<NAME>` (comma-separated). Several secrets = rotation: add the new
 * one, let the sender switch, then remove the old one. Errors name the variable, never a value.
 */
export function secretList(options: { name: string; value?: string; file?: string }): SecretList {
  const { name, file } = options;
  if (!file) {
    const secrets = split(options.value ?? '');
    return () => secrets;
  }
  return () => split(readMountedFile(file, `${name}_FILE`));
}
