import type { Transport } from '../transport/transport';
import type { Policy } from './call';

/** One HTTP attempt over the integration's pool; what came back (or did not) is judged by `classify`. */
export function send(transport: Transport): Policy {
  return async (call, next) => {
    const request = call.request!;
    const headers = { ...request.headers, ...call.credentials?.headers };
    call.outcome = await transport.send(call.integration, { ...request, headers }, call.profile, call.ctx.signal);
    return next(call);
  };
}
