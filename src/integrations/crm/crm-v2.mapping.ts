import type { Customer } from './crm.integration';
import type { CustomerV2 } from './crm-v2.integration';

/**
 * v2's answer in v1's shape, so callers and comparisons see one model. Workflow-safe and zod-free (types
 * only from the declarations): the order workflow maps the v2 answer itself.
 */
export function customerFromV2(v2: CustomerV2 | null): Customer | null {
  if (!v2) return null;
  const { plan, ...rest } = v2.customer;
  return { ...rest, tier: plan };
}
