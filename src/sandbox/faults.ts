import { STATUS_CODES, type ServerResponse } from 'node:http';
import { z } from 'zod';
import { drained, errorReply, JSON_CONTENT_TYPE, randomId, sleep, writeReply, type Reply } from './http';

/** Misbehaviour a request can be subjected to, by header `x-sandbox-fault` or by an admin rule. */
export type Fault =
  | { kind: 'latency'; ms: number }
  | { kind: 'status'; code: number; retryAfter?: string }
  | { kind: 'rate-limit'; retryAfter: number }
  | { kind: 'reset' }
  | { kind: 'commit-then-hang' }
  | { kind: 'commit-then-reset' }
  | { kind: 'commit-then-504'; ms: number }
  | { kind: 'malformed-json' }
  | { kind: 'schema-violation' }
  | { kind: 'drift'; rename: [string, string][]; retype: string[]; drop: string[] }
  | { kind: 'error-payload'; message: string }
  /** GraphQL errors and no data, with `extensions.code` (and `extensions.retryAfter`, seconds) when given. */
  | { kind: 'graphql-errors'; message: string; code?: string; retryAfter?: number }
  /** The real answer with one field of the root object nulled and an error at its path (partial data). */
  | { kind: 'graphql-partial'; field?: string; code: string }
  | { kind: 'html-error'; status: number }
  | { kind: 'oversized'; bytes: number }
  | { kind: 'redirect'; location: string | null; status: number };

export type FaultKind = Fault['kind'];

export const faultKinds: readonly FaultKind[] = [
  'latency',
  'status',
  'rate-limit',
  'reset',
  'commit-then-hang',
  'commit-then-reset',
  'commit-then-504',
  'malformed-json',
  'schema-violation',
  'drift',
  'error-payload',
  'graphql-errors',
  'graphql-partial',
  'html-error',
  'oversized',
  'redirect',
];

type Params = Readonly<Record<string, string>>;
type FaultParse = { ok: true; fault: Fault } | { ok: false; error: string };

function intParam(params: Params, name: string, fallback: number, min: number, max: number): number {
  const raw = params[name];
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`${name} must be an integer in [${min}, ${max}]`);
  }
  return value;
}

/** A GraphQL error code: upper-case letters, digits and `_`. */
function codeParam(code: string): string {
  if (!/^[A-Z][A-Z0-9_]{0,63}$/.test(code)) throw new RangeError('code must be upper-case letters, digits and _');
  return code;
}

/** `retryAfter=N` (seconds) or `retryAfterDate=<HTTP-date | seconds from now>`, the two forms of RFC 9110. */
function retryAfterParam(params: Params, now: number): string | undefined {
  if (params.retryAfter !== undefined) return String(intParam(params, 'retryAfter', 0, 0, 86_400));
  const date = params.retryAfterDate;
  if (date === undefined) return undefined;
  if (/^\d+$/.test(date)) return new Date(now + Number(date) * 1000).toUTCString();
  if (Number.isNaN(Date.parse(date))) throw new RangeError('retryAfterDate must be an HTTP-date or seconds');
  return date;
}

export function buildFault(name: string, params: Params, now: number): FaultParse {
  try {
    switch (name) {
      case 'latency':
        return { ok: true, fault: { kind: 'latency', ms: intParam(params, 'ms', 1000, 0, 600_000) } };
      case 'status': {
        const retryAfter = retryAfterParam(params, now);
        const code = intParam(params, 'code', 500, 400, 599);
        return {
          ok: true,
          fault: retryAfter === undefined ? { kind: 'status', code } : { kind: 'status', code, retryAfter },
        };
      }
      case 'rate-limit':
        return { ok: true, fault: { kind: 'rate-limit', retryAfter: intParam(params, 'retryAfter', 1, 0, 86_400) } };
      case 'reset':
      case 'commit-then-hang':
      case 'commit-then-reset':
      case 'malformed-json':
      case 'schema-violation':
        return { ok: true, fault: { kind: name } };
      case 'drift':
        return { ok: true, fault: driftFault(params) };
      case 'commit-then-504':
        return { ok: true, fault: { kind: 'commit-then-504', ms: intParam(params, 'ms', 1000, 0, 600_000) } };
      case 'error-payload':
        return { ok: true, fault: { kind: name, message: params.message ?? 'Internal error (sandbox fault)' } };
      case 'graphql-errors': {
        const code = params.code === undefined ? undefined : codeParam(params.code);
        const retryAfter = params.retryAfter === undefined ? undefined : intParam(params, 'retryAfter', 1, 0, 86_400);
        return {
          ok: true,
          fault: {
            kind: name,
            message: params.message ?? 'Internal error (sandbox fault)',
            ...(code === undefined ? {} : { code }),
            ...(retryAfter === undefined ? {} : { retryAfter }),
          },
        };
      }
      case 'graphql-partial':
        return {
          ok: true,
          fault: {
            kind: name,
            code: codeParam(params.code ?? 'INTERNAL_SERVER_ERROR'),
            ...(params.field === undefined ? {} : { field: params.field }),
          },
        };
      case 'html-error':
        return { ok: true, fault: { kind: 'html-error', status: intParam(params, 'status', 502, 200, 599) } };
      case 'oversized':
        return {
          ok: true,
          fault: { kind: 'oversized', bytes: intParam(params, 'bytes', 5 * 1024 * 1024, 1, 200 * 1024 * 1024) },
        };
      case 'redirect':
        return {
          ok: true,
          fault: {
            kind: 'redirect',
            location: params.location ?? null,
            status: intParam(params, 'status', 302, 300, 308),
          },
        };
      default:
        return { ok: false, error: `unknown fault "${name}"; known: ${faultKinds.join(', ')}` };
    }
  } catch (err) {
    return { ok: false, error: err instanceof Error ? err.message : 'invalid fault parameters' };
  }
}

/**
 * `drift;rename=email:emailAddress,tier:plan;retype=amount;drop=notes`: the real answer, changed the way
 * providers change APIs without notice. Field names match at any depth; `retype` turns a string into
 * `{ "value": <string> }` and a number into a string.
 */
function driftFault(params: Params): Fault {
  const list = (name: string) =>
    (params[name] ?? '')
      .split(',')
      .map((f) => f.trim())
      .filter(Boolean);
  const rename = list('rename').map((pair) => {
    const [from, to] = pair.split(':').map((f) => f.trim());
    if (!from || !to) throw new RangeError('rename must be from:to pairs, comma-separated');
    return [from, to] as [string, string];
  });
  const fault = { kind: 'drift' as const, rename, retype: list('retype'), drop: list('drop') };
  if (rename.length + fault.retype.length + fault.drop.length === 0)
    throw new RangeError('drift needs rename=from:to, retype=field or drop=field');
  return fault;
}

/** The answer body with a drift fault's renames, retypes and drops applied at every depth. */
export function drifted(body: unknown, fault: Extract<Fault, { kind: 'drift' }>): unknown {
  if (Array.isArray(body)) return body.map((item) => drifted(item, fault));
  if (!body || typeof body !== 'object') return body;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(body)) {
    if (fault.drop.includes(key)) continue;
    const name = fault.rename.find(([from]) => from === key)?.[1] ?? key;
    out[name] = !fault.retype.includes(key)
      ? drifted(value, fault)
      : typeof value === 'string'
        ? { value }
        : typeof value === 'number'
          ? String(value)
          : value;
  }
  return out;
}

/** Parses `name;param=value;...`. */
export function parseFaultSpec(spec: string, now: number, extra: Params = {}): FaultParse {
  const [name = '', ...pairs] = spec.split(';').map((part) => part.trim());
  const params: Record<string, string> = { ...extra };
  for (const pair of pairs) {
    if (!pair) continue;
    const eq = pair.indexOf('=');
    if (eq < 0) params[pair] = 'true';
    else params[pair.slice(0, eq).trim()] = pair.slice(eq + 1).trim();
  }
  return buildFault(name, params, now);
}

export const faultRuleSchema = z.object({
  method: z
    .string()
    .regex(/^[A-Za-z]+$/)
    .transform((m) => m.toUpperCase())
    .optional(),
  path: z.string().startsWith('/'),
  exact: z.boolean().optional(),
  fault: z.string().min(1),
  params: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
  times: z.int().min(1).optional(),
});

export type FaultRuleInput = z.output<typeof faultRuleSchema>;

interface FaultRule {
  id: string;
  method: string | null;
  path: string;
  exact: boolean;
  spec: string;
  fault: Fault;
  remaining: number | null;
}

/** Admin-configured faults; the first matching rule applies and `times` counts down to removal. */
export class FaultRules {
  private rules: FaultRule[] = [];

  add(input: FaultRuleInput, now: number): { ok: true; rule: FaultRule } | { ok: false; error: string } {
    const params = Object.fromEntries(Object.entries(input.params ?? {}).map(([k, v]) => [k, String(v)]));
    const parsed = parseFaultSpec(input.fault, now, params);
    if (!parsed.ok) return parsed;
    const rule: FaultRule = {
      id: randomId('flt'),
      method: input.method ?? null,
      path: input.path,
      exact: input.exact ?? false,
      spec: input.fault,
      fault: parsed.fault,
      remaining: input.times ?? null,
    };
    this.rules.push(rule);
    return { ok: true, rule };
  }

  /** Finds and consumes one application of the first rule matching the request. */
  take(method: string, path: string): Fault | null {
    const rule = this.rules.find(
      (r) =>
        (r.method === null || r.method === method) &&
        (path === r.path || (!r.exact && path.startsWith(r.path.endsWith('/') ? r.path : `${r.path}/`))),
    );
    if (!rule) return null;
    if (rule.remaining !== null) {
      rule.remaining -= 1;
      if (rule.remaining <= 0) this.rules = this.rules.filter((r) => r !== rule);
    }
    return rule.fault;
  }

  list(): FaultRule[] {
    return this.rules.map((r) => ({ ...r }));
  }

  remove(id: string): boolean {
    const before = this.rules.length;
    this.rules = this.rules.filter((r) => r.id !== id);
    return this.rules.length < before;
  }

  clear(): void {
    this.rules = [];
  }
}

/** What a reverse proxy in front of the provider answers when the upstream is down. */
function htmlPage(status: number): string {
  const title = `${status} ${STATUS_CODES[status] ?? 'Error'}`;
  return `<html>\r\n<head><title>${title}</title></head>\r\n<body>\r\n<center><h1>${title}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n`;
}

/** Streams a syntactically valid but huge JSON body, honouring back-pressure so memory stays flat. */
async function streamOversized(res: ServerResponse, bytes: number): Promise<void> {
  const prefix = '{"padding":"';
  const suffix = '"}';
  let left = Math.max(0, bytes - prefix.length - suffix.length);
  res.writeHead(200, {
    'content-type': JSON_CONTENT_TYPE,
    'content-length': String(prefix.length + left + suffix.length),
  });
  res.write(prefix);
  const chunk = Buffer.alloc(64 * 1024, 'x');
  while (left > 0) {
    if (res.destroyed) return;
    const n = Math.min(left, chunk.length);
    left -= n;
    if (!res.write(n === chunk.length ? chunk : chunk.subarray(0, n))) await drained(res);
  }
  if (!res.destroyed) res.end(suffix);
}

/** The handler's GraphQL answer with one field of its root object nulled, and the error that explains it. */
function partialAnswer(reply: Reply, fault: Extract<Fault, { kind: 'graphql-partial' }>): Reply {
  const data = (reply.body as { data?: Record<string, unknown> } | undefined)?.data;
  const [root, value] = Object.entries(data ?? {})[0] ?? [];
  if (!root || !value || typeof value !== 'object') return reply; // nothing to take a part of: the answer as it is
  const fields = Object.keys(value);
  const field = fault.field ?? fields[fields.length - 1] ?? '';
  return {
    status: 200,
    body: {
      data: { ...data, [root]: { ...value, [field]: null } },
      errors: [
        {
          message: `Cannot resolve ${root}.${field} (sandbox fault)`,
          path: [root, field],
          extensions: { code: fault.code },
        },
      ],
    },
  };
}

function truncatedJson(body: unknown): string {
  const text = JSON.stringify(body ?? { ok: true });
  return text.slice(0, Math.max(1, Math.floor(text.length / 2)));
}

export interface FaultIo {
  readonly res: ServerResponse;
  readonly signal: AbortSignal;
  readonly baseUrl: string;
}

/**
 * Runs `handle` under `fault` and answers. Faults whose name promises a committed effect
 * (commit-then-*, and the "2xx with an unusable body" family) run the real handler first,
 * so idempotency stores and the ledger reflect what the provider did; the rest answer instead of it.
 */
export async function runWithFault(fault: Fault | null, handle: () => Promise<Reply>, io: FaultIo): Promise<void> {
  const { res } = io;
  if (!fault) return writeReply(res, await handle());
  switch (fault.kind) {
    case 'latency':
      if (await sleep(fault.ms, io.signal)) writeReply(res, await handle());
      return;
    case 'status':
      return writeReply(
        res,
        errorReply(
          fault.code,
          'sandbox_fault',
          { status: fault.code },
          fault.retryAfter === undefined ? undefined : { 'retry-after': fault.retryAfter },
        ),
      );
    case 'rate-limit':
      return writeReply(res, errorReply(429, 'rate_limited', {}, { 'retry-after': String(fault.retryAfter) }));
    case 'reset':
      res.socket?.destroy();
      return;
    case 'error-payload':
      return writeReply(res, { status: 200, body: { ok: false, error: fault.message } });
    case 'graphql-errors': {
      const extensions = {
        ...(fault.code === undefined ? {} : { code: fault.code }),
        ...(fault.retryAfter === undefined ? {} : { retryAfter: fault.retryAfter }),
      };
      const error =
        Object.keys(extensions).length > 0 ? { message: fault.message, extensions } : { message: fault.message };
      return writeReply(res, { status: 200, body: { data: null, errors: [error] } });
    }
    case 'graphql-partial':
      return writeReply(res, partialAnswer(await handle(), fault));
    case 'html-error':
      return writeReply(res, { status: fault.status, raw: { contentType: 'text/html', data: htmlPage(fault.status) } });
    case 'redirect': {
      const location = fault.location ?? `${io.baseUrl}/healthz`;
      return writeReply(res, { status: fault.status, body: { redirect: location }, headers: { location } });
    }
    case 'commit-then-hang':
      // Effect applied, answer withheld: the socket stays open until the client gives up or the server closes.
      await handle();
      return;
    case 'commit-then-reset':
      await handle();
      res.socket?.destroy();
      return;
    case 'commit-then-504':
      await handle();
      if (await sleep(fault.ms, io.signal)) writeReply(res, errorReply(504, 'gateway_timeout'));
      return;
    case 'malformed-json': {
      const reply = await handle();
      return writeReply(res, { status: 200, raw: { contentType: JSON_CONTENT_TYPE, data: truncatedJson(reply.body) } });
    }
    case 'schema-violation':
      await handle();
      return writeReply(res, { status: 200, body: { unexpected: true } });
    case 'drift': {
      const reply = await handle();
      const ok = reply.status >= 200 && reply.status < 300 && reply.body !== undefined;
      return writeReply(res, ok ? { ...reply, body: drifted(reply.body, fault) } : reply);
    }
    case 'oversized':
      await handle();
      return streamOversized(res, fault.bytes);
  }
}
