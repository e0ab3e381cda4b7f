/** Keys whose values never reach a log line, at any depth (compared case-insensitively, without `_`/`-`). */
const sensitiveKeys = [
  'authorization',
  'password',
  'secret',
  'clientsecret',
  'token',
  'accesstoken',
  'refreshtoken',
  'idtoken',
  'apikey',
  'xapikey',
  'cookie',
  'setcookie',
  'cardnumber',
  'cvc',
  'cvv',
];

const normalize = (key: string) => key.toLowerCase().replace(/[-_]/g, '');
const REDACTED = '[redacted]';
const MAX_LOGGED_CHARS = 2_048;

/** A copy of `value` with sensitive and declared PII fields replaced, for logging a body on failure. */
export function redactValue(value: unknown, pii: readonly string[] = []): unknown {
  const hidden = new Set([...sensitiveKeys, ...pii.map(normalize)]);
  const walk = (v: unknown, depth: number): unknown => {
    if (depth > 8) return '[truncated]';
    if (Array.isArray(v)) return v.slice(0, 20).map((x) => walk(x, depth + 1));
    if (v && typeof v === 'object') {
      return Object.fromEntries(
        Object.entries(v as Record<string, unknown>).map(([k, x]) => [
          k,
          hidden.has(normalize(k)) ? REDACTED : walk(x, depth + 1),
        ]),
      );
    }
    return v;
  };
  return walk(value, 0);
}

/** Removes every known secret value from free text (an HTML error page, an error message) and truncates it. */
export function scrubText(text: string, secrets: Iterable<string>): string {
  let out =
    text.length > MAX_LOGGED_CHARS
      ? `${text.slice(0, MAX_LOGGED_CHARS)}…[${text.length - MAX_LOGGED_CHARS} more chars]`
      : text;
  // Very short values would blank out ordinary words; secrets and PII values are longer.
  for (const s of secrets) if (s.length >= 4 && out.includes(s)) out = out.split(s).join(REDACTED);
  return out;
}

/** A body as it may be logged: JSON with sensitive fields redacted by key, then scrubbed of known secrets and truncated. */
export function loggableBody(
  raw: string | undefined,
  pii: readonly string[],
  secrets: Iterable<string>,
): string | undefined {
  if (raw === undefined || raw === '') return undefined;
  let text = raw;
  try {
    text = JSON.stringify(redactValue(JSON.parse(raw), pii));
  } catch {
    // not JSON: scrubbing known secrets is all we can do
  }
  return scrubText(text, secrets);
}
