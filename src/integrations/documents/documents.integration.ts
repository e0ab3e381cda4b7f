import { z } from 'zod';
import { apiKey, defineIntegration, get, post } from '../kit/define';
import { env, secret } from '../kit/refs';

/**
 * Document generation provider, modelled on TurboDocx: an API key in `x-api-key`, asynchronous jobs
 * (`POST generate` answers 202 with a job, `GET jobs/:jobId` reports it) and `Idempotency-Key` on
 * generation, required by the provider. Completion is also announced by signed webhook (see
 * `src/webhooks`); polling `getJob` is the fallback when a webhook is late or lost.
 */

export const DocumentJobStatus = z
  .enum(['queued', 'processing', 'completed', 'failed'])
  .describe('queued -> processing -> completed | failed');
export type DocumentJobStatus = z.infer<typeof DocumentJobStatus>;

export const GenerateDocumentRequest = z.object({
  template: z.string().min(1).max(200).describe('template identifier, as configured at the provider'),
  data: z
    .record(z.string(), z.unknown())
    .describe('values merged into the template; may hold customer data, so never logged on success'),
});
export type GenerateDocumentRequest = z.infer<typeof GenerateDocumentRequest>;

export const DocumentJob = z
  .object({
    jobId: z.string().min(1).describe('provider job id; poll it with getJob'),
    status: DocumentJobStatus,
    documentUrl: z
      .url()
      .optional()
      .describe('where the finished document can be downloaded (a capability URL); set once completed'),
    error: z.string().optional().describe('provider error code when the job failed, e.g. render_failed'),
  })
  .refine((job) => job.status !== 'completed' || job.documentUrl !== undefined, {
    message: 'a completed job must carry its documentUrl',
    path: ['documentUrl'],
  })
  .describe('a generation job, as the provider reports it');
export type DocumentJob = z.infer<typeof DocumentJob>;

export const JobParams = z.object({ jobId: z.string().min(1).describe('the id returned by generate') });
export type JobParams = z.infer<typeof JobParams>;

export const documents = defineIntegration({
  name: 'documents',
  version: 'v1',
  purpose: 'Render documents (invoices, contracts) from templates, asynchronously',
  owner: 'documents-team',
  support: { contact: 'https://support.documents.example.com/tickets', escalation: '+1 202 555 0142' },
  baseUrl: env('DOCUMENTS_URL', {
    description: 'Base URL of the documents provider (TurboDocx-like).',
    sandbox: { path: 'documents' },
  }),
  auth: apiKey({
    header: 'x-api-key',
    key: secret('DOCUMENTS_API_KEY', {
      description: 'API key of the documents provider.',
      sandbox: { credential: 'SANDBOX_DOCUMENTS_API_KEY' },
    }),
  }),
  // The provider remembers a generation key for 24 hours; the background budget (1 hour) ends well inside it.
  idempotency: { header: 'Idempotency-Key', retention: '24 hours' },
  endpoints: {
    generate: post('generate', {
      body: GenerateDocumentRequest,
      response: DocumentJob,
      profile: 'background',
      // 202 for a new job; a resend with the same key is answered 200 with the first job.
      successStatus: [200, 202],
      description: 'Start rendering a document; keyed, so a resend returns the first job instead of a second one',
    }),
    getJob: get('jobs/:jobId', {
      params: JobParams,
      response: DocumentJob,
      profile: 'background',
      description: 'Read a generation job: its status, and the document URL once completed',
    }),
  },
  pollers: {
    // documentsAwaitJob (heartbeating) and documentsAwaitJobOnce (check once, NotReady until finished).
    awaitJob: {
      endpoint: 'getJob',
      done: (job) => ['completed', 'failed'].includes((job as DocumentJob).status),
      interval: '500 ms',
    },
  },
});
