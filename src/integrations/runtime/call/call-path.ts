import type { Tracer } from '@opentelemetry/api';
import type { CallMetrics } from '../../../observability/call-metrics';
import type { Logger } from '../../../observability/logger';
import type { AdaptiveLimiter } from '../adaptive-limiter';
import type { Verdict } from '../classify';
import type { Credentials } from '../auth/credentials';
import type { SecretSource } from '../secrets';
import type { UrlRules } from '../transport/request';
import type { Transport } from '../transport/transport';
import { authenticate } from './authenticate';
import type { DriftRecorder } from '../drift';
import { compose, type Call } from './call';
import { classify } from './classify';
import { drift } from './drift';
import type { Fallbacks } from './fallback';
import { gate, type Gate } from './gate';
import { measure } from './measure';
import { pace } from './pace';
import { prepare } from './prepare';
import { report } from './report';
import { send } from './send';
import { traceAttempt } from './trace';

export interface CallPathDeps {
  logger: Logger;
  secrets: SecretSource;
  rules: UrlRules;
  transport: Transport;
  credentials: Credentials;
  fallbacks: Fallbacks;
  controls?: Gate;
  limiter?: AdaptiveLimiter;
  metrics: CallMetrics;
  /** Counts and samples answers that fail their schema; none: nothing is sampled. */
  drift?: DriftRecorder;
  /** One span per HTTP attempt when set (tracing on); the step is left out of the path otherwise. */
  tracer?: Tracer;
}

/**
 * The whole path of one call, in order. Every profile takes the same path; what differs is decided
 * inside a step from the call's profile (a user flow's gate fails fast, background work's waits; only
 * user-flow reads declare fallbacks).
 *
 * 1. fallback: a cached or default answer instead of the provider (declared user-flow reads only);
 * 2. measure: every call that got past the cache is counted (outcome, latency, price, quota headers),
 *    held-back ones included;
 * 3. pace: traffic shaping, before the gate, so a call held back here takes no half-open probe;
 * 4. gate: kill switch and circuit breaker; nothing is sent past a closed gate;
 * 5. report: everything below comes back through it: logged once, told to the breaker, the limiter
 *    and the token cache; setup failures become verdicts;
 * 6. drift: a 2xx that failed its response schema is counted and sampled, redacted;
 * 7. prepare: the request from the declaration and the checked input;
 * 8. authenticate: API key or OAuth2 token (mTLS is the transport's);
 * 9. (tracing on) trace: the attempt's span, and `traceparent` when the integration declares it;
 * 10. send: one HTTP attempt over the integration's pool;
 * 11. classify: the ordered table turns the outcome into a value or a typed failure.
 */
export function callPath(deps: CallPathDeps): (call: Call) => Promise<Verdict> {
  return compose([
    deps.fallbacks.policy,
    measure(deps.metrics),
    pace(deps.limiter, deps.logger, deps.metrics),
    gate(deps.controls, deps.logger),
    report(deps),
    drift(deps.drift),
    prepare(deps.secrets, deps.rules),
    authenticate(deps.credentials),
    ...(deps.tracer ? [traceAttempt(deps.tracer)] : []),
    send(deps.transport),
    classify(deps.credentials),
  ]);
}
