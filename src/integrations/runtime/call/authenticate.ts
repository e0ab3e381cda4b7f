import type { Credentials } from '../auth/credentials';
import type { Policy } from './call';

/** Adds the integration's credentials (API key, OAuth2 token); their failures reach `report` as thrown. */
export function authenticate(credentials: Credentials): Policy {
  return async (call, next) => {
    call.credentials = await credentials.headers(call.integration);
    return next(call);
  };
}
