import type { Config } from '../../config/config';

/**
 * References to configuration, resolved when a call is made (never at import time), so an integration
 * definition is plain data that workflow code can import and no value is baked into a bundle.
 */
export interface EnvRef {
  kind: 'env';
  name: keyof Config;
}

/**
 * A secret: read from `<NAME>_FILE` (what a vault agent or a Kubernetes secret mounts; re-read when the
 * file changes, so rotation needs no restart) or else from the variable `<NAME>`.
 */
export interface SecretRef {
  kind: 'secret';
  name: keyof Config;
}

export function env(name: keyof Config): EnvRef {
  return { kind: 'env', name };
}

export function secret(name: keyof Config): SecretRef {
  return { kind: 'secret', name };
}
