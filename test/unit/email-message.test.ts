import { z } from 'zod';
import { EmailMessage } from '../../src/integrations/email/email.integration';
import { checkEmailMessage, EMAIL_ADDRESS } from '../../src/integrations/email/email-message';

/**
 * The email batcher's zod-free check of a queued message (workflow code carries no zod) against the
 * provider's `EmailMessage` schema: the same accept/reject outcome, the same message kept, the same
 * fields named, on a table of good and bad messages.
 */
const good = { to: 'ada@example.com', subject: 'Your invoice', body: 'Hello' };
const pair = '\u{1F600}'; // one code point, two UTF-16 units: zod 4 counts it as one character
const messages: [string, unknown][] = [
  ['a plain message', good],
  ['extra fields (dropped)', { ...good, cc: 'b@example.com', id: 7 }],
  ['an empty body', { ...good, body: '' }],
  ['a body at its cap', { ...good, body: 'x'.repeat(1_000_000) }],
  ['a body past its cap', { ...good, body: 'x'.repeat(1_000_001) }],
  ['a body at its cap in surrogate pairs', { ...good, body: pair.repeat(1_000_000) }],
  ['a subject of one character', { ...good, subject: 'x' }],
  ['a subject of one surrogate pair', { ...good, subject: pair }],
  ['a subject of a lone surrogate', { ...good, subject: '\ud83d' }],
  ['an empty subject', { ...good, subject: '' }],
  ['a subject at its cap', { ...good, subject: 's'.repeat(998) }],
  ['a subject past its cap', { ...good, subject: 's'.repeat(999) }],
  ['a subject at its cap in surrogate pairs', { ...good, subject: pair.repeat(998) }],
  ['a subject past its cap in surrogate pairs', { ...good, subject: pair.repeat(999) }],
  ['an address with dots, plus and quote', { ...good, to: "o'brien.j+tag@mail.example.co.uk" }],
  ['an address without a domain dot', { ...good, to: 'ada@localhost' }],
  ['an address without @', { ...good, to: 'ada.example.com' }],
  ['an address with a leading dot', { ...good, to: '.ada@example.com' }],
  ['an address with two dots', { ...good, to: 'a..da@example.com' }],
  ['an address with a one-letter TLD', { ...good, to: 'ada@example.c' }],
  ['an address with a hyphen-first domain', { ...good, to: 'ada@-example.com' }],
  ['an address with spaces', { ...good, to: ' ada@example.com' }],
  ['a unicode address', { ...good, to: 'ädä@example.com' }],
  ['an empty address', { ...good, to: '' }],
  ['a number for an address', { ...good, to: 42 }],
  ['a missing address', { subject: good.subject, body: good.body }],
  ['a null body', { ...good, body: null }],
  ['nothing right', { to: 1, subject: 2, body: 3 }],
  ['null', null],
  ['a string', 'ada@example.com'],
  ['an array', [good]],
  ['undefined', undefined],
  ['an empty object', {}],
];

describe('checkEmailMessage, against the EmailMessage schema', () => {
  it.each(messages)('%s', (_what, message) => {
    const parsed = EmailMessage.safeParse(message);
    const checked = checkEmailMessage(message);
    expect(checked.ok).toBe(parsed.success);
    if (parsed.success && checked.ok) expect(checked.message).toStrictEqual(parsed.data);
    if (!parsed.success && !checked.ok)
      expect(checked.fields).toEqual([...new Set(parsed.error.issues.map((i) => i.path.join('.')))]);
  });

  it("uses zod's own email pattern", () => {
    expect(EMAIL_ADDRESS.source).toBe(z.regexes.email.source);
    expect(EMAIL_ADDRESS.flags).toBe(z.regexes.email.flags);
  });

  it('keeps the fields in the schema order, as the parse does (the batch request body stays byte for byte)', () => {
    const checked = checkEmailMessage({ body: 'b', subject: 's', to: 'ada@example.com' });
    expect(checked.ok && Object.keys(checked.message)).toEqual(['to', 'subject', 'body']);
  });
});
