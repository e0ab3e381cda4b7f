import { createHash } from 'node:crypto';
import { errorReply, header, type Parsed, type Reply, type SandboxRequest } from './http';

interface StoredResult {
  fingerprint: string;
  body: unknown;
  headers: Readonly<Record<string, string>> | undefined;
}

/** JSON with sorted keys, so `{a,b}` and `{b,a}` count as the same request. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

export function fingerprint(value: unknown): string {
  return createHash('sha256').update(canonical(value)).digest('hex');
}

/**
 * Reads an idempotency key header. `required` makes a missing key a 400 with `missingError`;
 * otherwise a missing key is `null` (the request is simply not deduplicated).
 */
export function idempotencyKey(
  req: SandboxRequest,
  name: string,
  options: { required: boolean; missingError: string },
): Parsed<string | null> {
  const key = header(req, name)?.trim();
  if (!key) {
    return options.required ? { ok: false, reply: errorReply(400, options.missingError) } : { ok: true, value: null };
  }
  if (key.length > 255) return { ok: false, reply: errorReply(400, 'invalid_idempotency_key') };
  return { ok: true, value: key };
}

/**
 * Stripe-style idempotency: the first successful result for (scope, key) is stored and replayed as
 * 200 + `idempotent-replayed: true`; the same key with a different request is a 422. Failures are not stored,
 * so a client may retry them with the same key.
 */
export class IdempotencyStore {
  private readonly results = new Map<string, StoredResult>();

  run(scope: string, key: string | null, request: unknown, apply: () => Reply): Reply {
    if (key === null) return apply();
    const id = `${scope}\u0000${key}`;
    const print = fingerprint(request);
    const hit = this.results.get(id);
    if (hit) {
      if (hit.fingerprint !== print) {
        return errorReply(422, 'idempotency_key_reused', {
          message: 'This idempotency key was already used with a different request.',
        });
      }
      return {
        status: 200,
        body: structuredClone(hit.body),
        headers: { ...hit.headers, 'idempotent-replayed': 'true' },
      };
    }
    const reply = apply();
    if (reply.status >= 200 && reply.status < 300) {
      this.results.set(id, { fingerprint: print, body: structuredClone(reply.body), headers: reply.headers });
    }
    return reply;
  }

  /** How many (scope, key) results are remembered. */
  get size(): number {
    return this.results.size;
  }

  clear(): void {
    this.results.clear();
  }
}
