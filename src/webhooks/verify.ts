import { createHmac, timingSafeEqual } from 'node:crypto';
import { Webhook } from 'standardwebhooks';

/** Why a request was refused before anything was parsed. Stable codes: logged, counted, returned. */
export type VerifyFailure =
  | 'missing_signature'
  | 'missing_webhook_id'
  | 'missing_timestamp'
  | 'invalid_timestamp'
  | 'timestamp_too_old'
  | 'timestamp_too_new'
  | 'unsupported_signature_version'
  | 'signature_mismatch';

export type VerifyResult = { ok: true } | { ok: false; reason: VerifyFailure };

const ok: VerifyResult = { ok: true };
const fail = (reason: VerifyFailure): VerifyResult => ({ ok: false, reason });

/**
 * The 5-minute window, both directions: a captured request cannot be replayed later, and a sender
 * with a clock far ahead cannot mint requests that stay valid for long. Digits only: `12e3`, `-1`,
 * `1.5` and `123abc` are refused (the library alone would read `123abc` as 123).
 */
export function checkTimestamp(header: string | undefined, nowMs: number, toleranceSeconds: number): VerifyResult {
  if (header === undefined || header.trim() === '') return fail('missing_timestamp');
  if (!/^\d{1,12}$/.test(header.trim())) return fail('invalid_timestamp');
  const skew = Number(header.trim()) - Math.floor(nowMs / 1000);
  if (skew < -toleranceSeconds) return fail('timestamp_too_old');
  if (skew > toleranceSeconds) return fail('timestamp_too_new');
  return ok;
}

/** `whsec_<base64>` is decoded (the Standard Webhooks convention); any other secret is used as utf8 bytes. */
function standardWebhook(secret: string): Webhook {
  return secret.startsWith('whsec_')
    ? new Webhook(secret)
    : new Webhook(Buffer.from(secret, 'utf8'), { format: 'raw' });
}

/**
 * Verifiers for a rotating list of secrets, built once per secret (a `whsec_` secret that is not base64
 * fails here, at start-up, with the provider's name and never the value).
 */
export class StandardWebhooksVerifier {
  private readonly cache = new Map<string, Webhook>();

  constructor(private readonly provider: string) {}

  /** Checks the key material of every secret; throws naming the provider and the secret's position. */
  prepare(secrets: readonly string[]): Webhook[] {
    return secrets.map((secret, index) => {
      let webhook = this.cache.get(secret);
      if (!webhook) {
        try {
          webhook = standardWebhook(secret);
        } catch {
          throw new Error(`webhook secret #${index + 1} of ${this.provider} is not usable (whsec_ must be base64)`);
        }
        this.cache.set(secret, webhook);
      }
      return webhook;
    });
  }

  /**
   * Any current secret and any `v1,` signature in the header may match (rotation without downtime:
   * the sender signs with old and new secrets, the receiver knows both). Unknown versions are skipped;
   * a header with only unknown versions is refused as such.
   *
   * The library signs (`webhook.sign`) but does not compare here: its `verify` re-checks the timestamp
   * against a fixed 5-minute window of its own, which would silently override the configured tolerance.
   * The timestamp is checked once, by {@link checkTimestamp}, before this; the comparison is constant-time.
   */
  verify(
    body: string,
    headers: { id: string | undefined; timestamp: string; signature: string },
    secrets: readonly string[],
  ): VerifyResult {
    if (headers.id === undefined || headers.id === '') return fail('missing_webhook_id');
    const signatures = headers.signature
      .split(' ')
      .filter((s) => s !== '')
      .map((s) => {
        const comma = s.indexOf(',');
        return comma < 0 ? { version: s, value: '' } : { version: s.slice(0, comma), value: s.slice(comma + 1) };
      });
    const v1 = signatures.filter((s) => s.version === 'v1').map((s) => Buffer.from(s.value, 'utf8'));
    if (v1.length === 0) return fail('unsupported_signature_version');
    const timestamp = Number(headers.timestamp.trim());
    if (!Number.isSafeInteger(timestamp)) return fail('invalid_timestamp');
    const signedAt = new Date(timestamp * 1000);
    for (const webhook of this.prepare(secrets)) {
      const expected = Buffer.from(webhook.sign(headers.id, signedAt, body).slice('v1,'.length), 'utf8');
      if (v1.some((given) => given.length === expected.length && timingSafeEqual(given, expected))) return ok;
    }
    return fail('signature_mismatch');
  }
}

const hexSha256 = /^[0-9a-f]{64}$/i;

/**
 * Provider-specific scheme: hex HMAC-SHA256 of the raw bytes, keyed with the secret string as given.
 * Compared in constant time on equal-length buffers (timingSafeEqual throws on different lengths).
 */
export function verifyHexHmac(rawBody: Buffer, header: string, secrets: readonly string[]): VerifyResult {
  const given = header.trim();
  if (!hexSha256.test(given)) return fail('signature_mismatch');
  const givenBytes = Buffer.from(given, 'hex');
  for (const secret of secrets) {
    const expected = createHmac('sha256', secret).update(rawBody).digest();
    if (expected.length === givenBytes.length && timingSafeEqual(expected, givenBytes)) return ok;
  }
  return fail('signature_mismatch');
}
