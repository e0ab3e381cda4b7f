// A one-email workflow on a task queue of the caller's choosing, for the traffic test and the
// email-rate benchmark: the rate they declare never lingers on the real integration-email queue.
import { proxyActivities } from '@temporalio/workflow';
import { email } from '../../src/integrations/email/email.integration';
import { activityOptions } from '../../src/integrations/kit/profiles';

export async function sendOneEmail(input: {
  taskQueue: string;
  key: string;
  to: string;
  subject?: string;
}): Promise<string> {
  const { emailSend } = proxyActivities<{ emailSend: (i: unknown) => Promise<{ messageId: string }> }>(
    activityOptions(email.profileOf('send'), { taskQueue: input.taskQueue, retryUnknownOutcome: true }),
  );
  const body = { to: input.to, subject: input.subject ?? 'traffic test', body: 'paced' };
  return (await emailSend({ key: input.key, body })).messageId;
}
