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

/**
 * Whether a key's value is hidden: a sensitive key or a declared PII field, or a key that contains a
 * declared PII name (`contactEmail` for `email`): a provider renaming a field usually keeps its word.
 */
function hiddenKey(pii: readonly string[]): (key: string) => boolean {
  const exact = new Set([...sensitiveKeys, ...pii.map(normalize)]);
  const words = pii.map(normalize).filter((p) => p.length >= 4);
  return (key) => {
    const k = normalize(key);
    return exact.has(k) || words.some((w) => k.includes(w));
  };
}
const REDACTED = '[redacted]';
const MAX_LOGGED_CHARS = 2_048;

/** A copy of `value` with sensitive and declared PII fields replaced, for logging a body on failure. */
export function redactValue(value: unknown, pii: readonly string[] = []): unknown {
  const hidden = hiddenKey(pii);
  const walk = (v: unknown, depth: number): unknown => {
    if (depth > 8) return '[truncated]';
    if (Array.isArray(v)) return v.slice(0, 20).map((x) => walk(x, depth + 1));
    if (v && typeof v === 'object') {
      return Object.fromEntries(
        Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, hidden(k) ? REDACTED : walk(x, depth + 1)]),
      );
    }
    return v;
  };
  return walk(value, 0);
}

/** Removes every known secret value from free text (an HTML error page, an error message) and truncates it. */
export function scrubText(text: string, secrets: Iterable<string>): string {
  const out =
    text.length > MAX_LOGGED_CHARS
      ? `${text.slice(0, MAX_LOGGED_CHARS)}…[${text.length - MAX_LOGGED_CHARS} more chars]`
      : text;
  return replaceSecrets(out, secrets);
}

/** `text` with every occurrence of the given secret values replaced. */
function replaceSecrets(text: string, secrets: Iterable<string>): string {
  let out = text;
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
  return scrubPatterns(scrubText(text, secrets));
}

/**
 * Values that are PII or secrets whatever key they sit under (a drifting answer renames fields, so
 * redaction by key alone misses them): email addresses, card numbers (13 to 19 digits passing Luhn),
 * bearer tokens, JWTs, provider keys (`sk_live_...`) and long opaque strings mixing letters and digits.
 */
const emailPattern = /[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+/g;
const cardPattern = /\b\d(?:[ -]?\d){12,18}\b/g;
const tokenPatterns = [
  /\bBearer\s+[\w.~+/=-]+/gi,
  /\beyJ[\w-]{4,}\.[\w-]{4,}\.[\w-]*/g,
  /\b(?:sk|pk|rk|whsec|ghp|xox[abpr])[_-][\w-]{8,}/g,
  // Long opaque strings with letters and digits; UUIDs are identifiers, not secrets.
  /\b(?![0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b)(?=[\w+/=-]*\d)(?=[\w+/=-]*[A-Za-z])[\w+/=-]{32,}/g,
];
export const REDACTED_EMAIL = 'redacted@example.com';
export const REDACTED_CARD = '[redacted-card]';
export const REDACTED_TOKEN = '[redacted-token]';

/** Luhn's checksum: what tells a card number from any other run of digits. */
function luhn(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 1) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
    sum += d;
  }
  return sum % 10 === 0;
}

/** Free text with every email address, card number and token-looking value replaced. */
export function scrubPatterns(text: string): string {
  let out = text.replace(emailPattern, REDACTED_EMAIL);
  out = out.replace(cardPattern, (match) => (luhn(match.replace(/\D/g, '')) ? REDACTED_CARD : match));
  for (const pattern of tokenPatterns) out = out.replace(pattern, REDACTED_TOKEN);
  return out;
}

export interface SampleRedaction {
  /** Declared PII fields (the integration's and the endpoint's), any depth. */
  pii: readonly string[];
  /** Secret values handed out so far (`SecretSource.knownSecrets()`). */
  secrets: Iterable<string>;
  /** Longest array kept (the rest is cut: a sample shows the shape, not the whole page). @default 50 */
  maxItems?: number;
}

/**
 * A copy of a provider's answer fit to be stored and committed as a test fixture: values under sensitive
 * or declared PII keys (or keys containing a PII name) replaced, and every string (and key) scrubbed of known secrets, emails, cards and
 * tokens. Types are kept (a redacted string stays a string, a number becomes 0, an email stays an email
 * address) so the sample still meets, or fails, the schema the way the real answer did.
 */
export function redactSample(value: unknown, options: SampleRedaction): unknown {
  const hidden = hiddenKey(options.pii);
  const secrets = [...options.secrets];
  const maxItems = options.maxItems ?? 50;
  const text = (s: string) => scrubPatterns(replaceSecrets(s, secrets));
  const blank = (v: unknown): unknown => {
    if (typeof v === 'string') return /^[^@\s]+@[^@\s]+$/.test(v) ? REDACTED_EMAIL : REDACTED;
    if (typeof v === 'number') return 0;
    if (Array.isArray(v)) return v.slice(0, maxItems).map(blank);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [text(k), blank(x)]));
    return v;
  };
  const walk = (v: unknown, depth: number): unknown => {
    if (depth > 32) return REDACTED;
    if (typeof v === 'string') return text(v);
    if (typeof v === 'number') return cardLike(v) ? 0 : v;
    if (Array.isArray(v)) return v.slice(0, maxItems).map((x) => walk(x, depth + 1));
    if (v && typeof v === 'object') {
      return Object.fromEntries(
        Object.entries(v as Record<string, unknown>).map(([k, x]) => [
          text(k),
          hidden(k) ? blank(x) : walk(x, depth + 1),
        ]),
      );
    }
    return v;
  };
  return walk(value, 0);
}

function cardLike(n: number): boolean {
  const digits = Number.isInteger(n) && n > 0 ? String(n) : '';
  return digits.length >= 13 && digits.length <= 19 && luhn(digits);
}
