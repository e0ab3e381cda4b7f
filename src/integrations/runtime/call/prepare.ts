import type { SecretSource } from '../secrets';
import { baseUrlOf, buildRequest, type UrlRules } from '../transport/request';
import type { Policy } from './call';

/**
 * Builds the request from the declaration before anything else is spent on it: an input that fails its
 * schema, a write without a key or a base URL the rules refuse ends here (`Misconfigured`, via `report`).
 */
export function prepare(secrets: SecretSource, rules: UrlRules): Policy {
  return (call, next) => {
    call.request = buildRequest(call.integration, call.spec, call.input, baseUrlOf(call.integration, secrets, rules));
    return next(call);
  };
}
