import { integrations } from '../integrations';
import type { IntegrationRegistry } from '../integrations/kit/define';
import type { IntegrationEngine } from '../integrations/runtime/engine';

/** A dark launch's disagreement, as the workflow saw it (versions.ts `shadow`). */
export interface DarkLaunchDriftInput {
  /** The dark-launched version, e.g. `{ integration: 'crmv2', endpoint: 'getCustomer' }`. */
  candidate: { integration: string; endpoint: string };
  /** The version it was compared with, e.g. `{ integration: 'crm', endpoint: 'getCustomer' }`. */
  primary: { integration: string; endpoint: string };
  /** The paths at which the two answers differed (as compared, in the primary's shape). */
  differences: string[];
  /** The candidate's answer as its endpoint returned it. */
  candidateAnswer: unknown;
  /** The primary's answer. */
  primaryAnswer: unknown;
}

/**
 * Drift recording for workflows: the comparison of a dark launch happens in workflow code, which may
 * not write files or count metrics, so it hands a disagreement to this activity (on the candidate's
 * queue), which counts it and keeps a redacted sample through the engine's drift recorder.
 */
export function createDriftActivities(runtime: IntegrationEngine, registry: IntegrationRegistry = integrations) {
  return {
    async recordDarkLaunchDrift(input: DarkLaunchDriftInput): Promise<void> {
      const candidate = registry[input.candidate.integration];
      const primary = registry[input.primary.integration];
      if (!candidate?.endpoints[input.candidate.endpoint] || !primary?.endpoints[input.primary.endpoint])
        throw new Error(
          `recordDarkLaunchDrift: unknown endpoint ${input.candidate.integration}.${input.candidate.endpoint} or ${input.primary.integration}.${input.primary.endpoint}`,
        );
      await runtime.drift.darkLaunch({
        integration: candidate,
        endpoint: input.candidate.endpoint,
        primary: { integration: primary, endpoint: input.primary.endpoint, answer: input.primaryAnswer },
        answer: input.candidateAnswer,
        differences: input.differences,
      });
    },
  };
}

export type DriftActivities = ReturnType<typeof createDriftActivities>;
