import type { DriftRecorder } from '../drift';
import type { Policy } from './call';

/**
 * Schema drift: a 2xx JSON answer that failed the endpoint's response schema (the classification
 * marks it with `schemaIssues`) is counted and sampled, redacted (../drift.ts). The verdict goes back
 * unchanged: drift is observed, never acted on here.
 */
export function drift(recorder: DriftRecorder | undefined): Policy {
  return async (call, next) => {
    const verdict = await next(call);
    const outcome = call.outcome;
    if (!recorder || verdict.ok || !verdict.schemaIssues || outcome?.kind !== 'response') return verdict;
    let body: unknown;
    try {
      body = outcome.body === '' ? undefined : JSON.parse(outcome.body);
    } catch {
      return verdict; // classified as invalid JSON, not as drift
    }
    await recorder.schema({
      integration: call.integration,
      endpoint: call.endpoint,
      status: outcome.status,
      body,
      issues: verdict.schemaIssues,
    });
    return verdict;
  };
}
