import type { FailureType } from '../../kit/failures';

/** Credentials could not be had; `type` says what that means for the call (see the failure table). */
export class CredentialsError extends Error {
  override readonly name = 'CredentialsError';
  constructor(
    message: string,
    readonly type:
      typeof FailureType.Unauthorized | typeof FailureType.AuthUnavailable | typeof FailureType.Misconfigured,
  ) {
    super(message);
  }
}
