import type { Credentials } from '../auth/credentials';
import { classify as classifyOutcome } from '../classify';
import type { Policy } from './call';

/** The end of the path: the ordered classification table (runtime/classify.ts) judges the outcome. */
export function classify(credentials: Credentials): Policy {
  return (call) =>
    Promise.resolve(
      classifyOutcome(call.outcome!, {
        spec: call.spec,
        profile: call.profile,
        attempt: call.ctx.attempt,
        credentialsRefreshable: credentials.refreshable(call.integration, call.credentials?.token),
        errorPayload: call.integration.errorPayload,
      }),
    );
}
