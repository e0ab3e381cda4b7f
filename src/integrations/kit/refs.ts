/**
 * References to configuration, resolved when a call is made (never at import time), so an integration
 * definition is plain data that workflow code can import and no value is baked into a bundle.
 *
 * A reference is also the variable's declaration: its description and how `npm start` and the tests
 * fill it against the sandbox travel with it. The config schema, `.env.example`, the dev credentials and
 * the docker-compose check are derived from the references of the registered integrations
 * (src/integrations/index.ts, derived in src/integrations/variables.ts), so a provider's variables are
 * declared once, in its folder.
 */

/** An environment variable: upper-case letters, digits and `_` (checked when the registry is derived). */
export type VariableName = Uppercase<string>;

/** A variable the provider sandbox (src/sandbox) reads: its own copy of a credential. */
export type SandboxVariable = `SANDBOX_${Uppercase<string>}`;

/**
 * How a development or test stack fills a variable against the sandbox (src/devserver/dev-credentials.ts):
 * - `{ path }` for a base URL: `<sandbox URL>/<path>`;
 * - `{ credential }` for a credential: a fresh random value, given to the sandbox in that variable and to
 *   the workers in this one, so the two match.
 */
export type SandboxBinding = { path: string } | { credential: SandboxVariable };

export interface VariableDoc {
  /** One sentence: what the variable holds (config module, `.env.example`). Required in the registry. */
  description?: string;
  /** How the sandbox stands in for the provider; without it `npm start` leaves the variable unset. */
  sandbox?: SandboxBinding;
}

export interface EnvRef extends VariableDoc {
  kind: 'env';
  name: VariableName;
}

/**
 * A secret: read from `<NAME>_FILE` (what a vault agent or a Kubernetes secret mounts; re-read when the
 * file changes, so rotation needs no restart) or else from the variable `<NAME>`.
 */
export interface SecretRef extends VariableDoc {
  kind: 'secret';
  name: VariableName;
}

export function env(name: VariableName, doc: VariableDoc = {}): EnvRef {
  return { kind: 'env', name, ...doc };
}

export function secret(name: VariableName, doc: VariableDoc = {}): SecretRef {
  return { kind: 'secret', name, ...doc };
}
