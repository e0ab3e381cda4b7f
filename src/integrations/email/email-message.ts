import type { QueuedEmail } from '../../contracts/messages';

/**
 * The email provider's message rules, without zod: `EmailMessage` (email.integration.ts) is built from
 * these constants, and `checkEmailMessage` applies them in workflow code (the batcher checks each queued
 * message), with the schema's accept/reject outcomes (test/unit/email-message.test.ts compares the two).
 * Workflow-safe: no imports at run time.
 */

/** The provider's cap on one batch request. */
export const MAX_BATCH_MESSAGES = 100;

/** RFC 5322 caps a line at 998 characters. */
export const MAX_SUBJECT_LENGTH = 998;

export const MAX_BODY_LENGTH = 1_000_000;

/** zod 4's `z.email()` pattern (`z.regexes.email`), verbatim; the schema uses it explicitly: one rule for both. */
/* eslint-disable no-useless-escape -- zod's source as it is, so the test can compare the two */
export const EMAIL_ADDRESS =
  /^(?:[A-Za-z0-9_'+\-]+\.)*[A-Za-z0-9_'+\-]*[A-Za-z0-9_+-]@(?:[A-Za-z0-9][A-Za-z0-9\-]*\.)+[A-Za-z]{2,}$/;
/* eslint-enable no-useless-escape */

/** Length in Unicode code points, as zod 4 measures strings (a surrogate pair is one). */
function codePoints(text: string): number {
  let count = text.length;
  for (let i = 0; i < text.length - 1; i++) {
    if ((text.charCodeAt(i) & 0xfc00) === 0xd800 && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      count--;
      i++;
    }
  }
  return count;
}

export type EmailMessageCheck = { ok: true; message: QueuedEmail } | { ok: false; fields: string[] };

/**
 * Checks an untrusted message: `to` an address, `subject` 1 to 998 characters, `body` at most 1,000,000.
 * Answers the message with only those three fields (what the schema's parse returns), or the fields that
 * fail (`''` when it is not an object at all).
 */
export function checkEmailMessage(value: unknown): EmailMessageCheck {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { ok: false, fields: [''] };
  const { to, subject, body } = value as Record<string, unknown>;
  const fields: string[] = [];
  if (typeof to !== 'string' || !EMAIL_ADDRESS.test(to)) fields.push('to');
  if (typeof subject !== 'string' || codePoints(subject) < 1 || codePoints(subject) > MAX_SUBJECT_LENGTH)
    fields.push('subject');
  if (typeof body !== 'string' || codePoints(body) > MAX_BODY_LENGTH) fields.push('body');
  if (fields.length > 0) return { ok: false, fields };
  return { ok: true, message: { to: to as string, subject: subject as string, body: body as string } };
}
