import type { Duration } from '@temporalio/common';
import { ActivityFailure, ApplicationFailure, TimeoutFailure } from '@temporalio/workflow';
import { FailureType } from '../integrations/kit/failures';
import type { AwaitFileResult, UploadResult } from '../integrations/kit/file-drop';
import { fileDropViews } from '../integrations/manifest.generated';
import { proxyFileDrop } from './file-drop-proxy';
import { stepKey } from './keys';

export interface ExchangePayrollFileInput {
  /** Our reference of the payroll run: part of the workflow ID (`payroll-file-<payrollId>`), never PII. */
  payrollId: string;
  /** The payroll file, base64 (encrypted in histories when payload encryption is on). */
  contentBase64: string;
  /** How long the bank has to answer, from the upload. @default 1 hour */
  answerDeadline?: Duration;
}

export interface ExchangePayrollFileResult {
  request: UploadResult;
  answer: AwaitFileResult;
}

export { payrollFileWorkflowId } from '../contracts/messages';

/**
 * A two-step file exchange: drop the payroll file in the bank's outbox (exactly once: its name comes from
 * this workflow's ID and the step), then wait for the bank's answer file, or fail `DeadlineExceeded`.
 */
export async function exchangePayrollFile(input: ExchangePayrollFileInput): Promise<ExchangePayrollFileResult> {
  const files = proxyFileDrop(fileDropViews.payroll);
  const key = stepKey('payroll-file');
  const request = await files.uploadPayroll(
    { key, contentBase64: input.contentBase64 },
    { summary: 'upload payroll file' },
  );
  const deadline = input.answerDeadline ?? '1 hour';
  try {
    const answer = await files.awaitAnswer({ key }, { deadline, summary: 'wait for the bank answer file' });
    return { request, answer };
  } catch (err) {
    if (isDeadline(err))
      throw ApplicationFailure.create({
        type: FailureType.DeadlineExceeded,
        message: `no answer to ${request.path} within ${String(deadline)}`,
        nonRetryable: true,
      });
    throw err;
  }
}

/** The wait ran out of time (its schedule-to-close is the deadline) while the answer was not there. */
function isDeadline(err: unknown): boolean {
  return (
    err instanceof ActivityFailure &&
    (err.cause instanceof TimeoutFailure ||
      err.retryState === 'TIMEOUT' ||
      (err.cause instanceof ApplicationFailure && err.cause.type === FailureType.NotReady))
  );
}
