import { ApplicationFailure } from '@temporalio/common';
import type { CallFailureDetails } from '../../src/integrations/kit/failures';

/** The ApplicationFailure a call must end with; fails the test if it resolves or throws anything else. */
export async function failureOf(promise: Promise<unknown>): Promise<ApplicationFailure> {
  const err = await promise.then(
    (value) => {
      throw new Error(`expected the call to fail, it resolved with ${JSON.stringify(value)}`);
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ApplicationFailure);
  return err as ApplicationFailure;
}

/** What the engine attached to a failure: integration, endpoint, URL, status, attempt, key. */
export const detailsOf = (f: ApplicationFailure) => f.details?.[0] as CallFailureDetails;
