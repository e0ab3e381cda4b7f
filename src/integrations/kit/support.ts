/**
 * Who to reach when an integration misbehaves, shown by the catalog and the status page (`npm run status`):
 * the provider's support channel and the phone number to escalate to during an incident. Plain data, not
 * secret (it is printed), so never a person's private number. Workflow-safe.
 */
export interface SupportSpec {
  /** The provider's support channel: an e-mail address, an https URL (a portal), or a chat channel (`#payments-oncall`). */
  contact: string;
  /** The phone number to escalate to, in international form: `+`, country code, then digits (spaces, dashes allowed), e.g. `+44 20 7946 0000`. */
  escalation: string;
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const CHANNEL = /^#[a-z0-9][a-z0-9._-]*$/;
const PHONE = /^\+[1-9][0-9 -]{5,20}[0-9]$/;

/** Checks a declaration's `support`, failing with the field and an example of what is accepted. */
export function validateSupport(
  support: SupportSpec | undefined,
  fail: (field: string, message: string) => never,
): void {
  if (support === undefined) return;
  if (typeof support !== 'object' || support === null)
    fail('support', "expected { contact: 'support@provider.example', escalation: '+44 20 7946 0000' }");
  const { contact, escalation } = support;
  if (typeof contact !== 'string' || !(EMAIL.test(contact) || CHANNEL.test(contact) || isHttpsUrl(contact)))
    fail(
      'support.contact',
      `expected an e-mail address, an https URL or a chat channel such as '#payments-oncall', got ${JSON.stringify(contact)}`,
    );
  const digits = typeof escalation === 'string' ? escalation.replace(/[ -]/g, '').length - 1 : 0;
  if (typeof escalation !== 'string' || !PHONE.test(escalation) || digits < 7 || digits > 15)
    fail(
      'support.escalation',
      `expected a phone number in international form (+, country code, 7 to 15 digits), e.g. '+44 20 7946 0000', got ${JSON.stringify(escalation)}`,
    );
}

/** A regex, not `new URL`: declarations are also evaluated inside the workflow sandbox. */
function isHttpsUrl(value: string): boolean {
  return /^https:\/\/[a-z0-9.-]+\.[a-z]{2,}(\/\S*)?$/i.test(value);
}
