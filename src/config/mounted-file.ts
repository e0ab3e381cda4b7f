import { readFileSync, statSync } from 'node:fs';

const files = new Map<string, { mtimeMs: number; text: string }>();

export class MountedFileError extends Error {
  override readonly name = 'MountedFileError';
}

/**
 * The contents of a file a secret manager mounts (a Kubernetes secret, a vault-agent file), read again
 * only when its mtime changes: a rotated secret applies on the next use, without a restart, and an
 * unchanged one costs a `stat`. Errors name the variable that points at the file, never its contents.
 */
export function readMountedFile(path: string, variable: string): string {
  let mtimeMs: number;
  try {
    mtimeMs = statSync(path).mtimeMs;
  } catch {
    throw new MountedFileError(`${variable} points at ${path}, which cannot be read`);
  }
  const cached = files.get(path);
  if (cached?.mtimeMs === mtimeMs) return cached.text;
  const text = readFileSync(path, 'utf8');
  files.set(path, { mtimeMs, text });
  return text;
}
