import type { Logger } from '../../../observability/logger';
import { FailureType, semanticsOf } from '../../kit/failures';
import type { AdaptiveLimiter } from '../adaptive-limiter';
import { CredentialsError } from '../auth/credentials-error';
import type { Credentials } from '../auth/credentials';
import type { Verdict } from '../classify';
import { loggableBody, scrubText } from '../redact';
import { MissingConfigError, type SecretSource } from '../secrets';
import { InputError } from '../transport/request';
import { UrlPolicyError } from '../url-policy';
import type { Policy } from './call';
import type { Gate } from './gate';

export interface ReportDeps {
  logger: Logger;
  secrets: SecretSource;
  credentials: Credentials;
  controls?: Gate;
  limiter?: AdaptiveLimiter;
}

/**
 * Where a call that was let through comes back: its setup failures become verdicts; the breaker, the
 * rate limiter and the token cache hear how it went; it is logged once (info when it answered, warn with
 * the scrubbed error and bodies when not); and its message is scrubbed of every known secret and of the
 * PII values it sent.
 */
export function report(deps: ReportDeps): Policy {
  return async (call, next) => {
    const started = performance.now();
    let verdict: Verdict;
    try {
      verdict = await next(call);
    } catch (err) {
      if (call.ctx.signal?.aborted) throw err; // cancelled by Temporal: let the SDK report it
      verdict = setupFailure(err);
    }
    call.attemptMs = performance.now() - started;
    deps.credentials.settle(call.integration, call.credentials?.token, verdict);
    deps.controls?.record(call.integration, verdict.ok ? undefined : verdict.type, call.probe);
    const outcome = call.outcome;
    // The provider's answer (429, `x-ratelimit-remaining: 0`, or clean) adapts the integration's rate.
    const rate = call.integration.traffic?.ratePerSecond;
    if (outcome?.kind === 'response' && rate !== undefined) {
      deps.limiter?.observe(call.integration.name, rate, {
        rateLimited: !verdict.ok && verdict.type === FailureType.RateLimited,
        headers: outcome.headers,
        latencyMs: call.attemptMs,
      });
    }
    const fields = {
      integration: call.integration.name,
      endpoint: call.endpoint,
      method: call.spec.method,
      attempt: call.ctx.attempt,
      workflowId: call.ctx.workflowId,
      activityId: call.ctx.activityId,
      idempotencyKey: call.spec.idempotency === 'safe' ? undefined : call.input.key,
      url: call.request?.logUrl,
      status: outcome?.kind === 'response' ? outcome.status : undefined,
      durationMs: Math.round(call.attemptMs),
    };
    if (verdict.ok && verdict.degraded) {
      // Only codes and paths (the value's `errors`): the provider's messages may quote PII.
      const errors = (verdict.value as { errors?: unknown }).errors;
      deps.logger.warn({ ...fields, outcome: 'ok', degraded: verdict.degraded, errors }, 'integration call degraded');
      return verdict;
    }
    if (verdict.ok) {
      deps.logger.info({ ...fields, outcome: 'ok' }, 'integration call');
      return verdict;
    }
    const pii = [...(call.integration.pii ?? []), ...(call.spec.pii ?? [])];
    // A malformed or HTML body cannot be redacted by key: also scrub the PII values this call sent.
    const hidden = [
      ...deps.secrets.knownSecrets(),
      ...valuesOf(call.input.body, pii),
      ...valuesOf(call.input.variables, pii),
    ];
    const message = scrubText(`${call.integration.name}.${call.endpoint}: ${verdict.message}`, hidden);
    deps.logger.warn(
      {
        ...fields,
        outcome: verdict.type,
        retryable: verdict.retryable,
        nextRetryDelayMs: verdict.nextRetryDelayMs,
        error: message,
        code: outcome?.kind === 'transport' ? outcome.code : undefined,
        requestBody: loggableBody(call.request?.body, pii, hidden),
        responseBody: outcome?.kind === 'response' ? loggableBody(outcome.body, pii, hidden) : undefined,
      },
      'integration call failed',
    );
    return { ...verdict, message };
  };
}

/** Failures before anything was sent: bad input, bad configuration, credentials that could not be had. */
function setupFailure(err: unknown): Verdict {
  const message = (err as Error).message;
  if (err instanceof CredentialsError) {
    return { ok: false, type: err.type, message, retryable: semanticsOf(err.type).retryable };
  }
  if (err instanceof InputError || err instanceof UrlPolicyError || err instanceof MissingConfigError) {
    return { ok: false, type: FailureType.Misconfigured, message, retryable: false };
  }
  throw err;
}

/** The string values of the given keys, at any depth of `value`. */
function valuesOf(value: unknown, keys: readonly string[]): string[] {
  if (keys.length === 0 || !value || typeof value !== 'object') return [];
  return Object.entries(value as Record<string, unknown>).flatMap(([k, v]) =>
    keys.includes(k) && typeof v === 'string' ? [v] : valuesOf(v, keys),
  );
}
