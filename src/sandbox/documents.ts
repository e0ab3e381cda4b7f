import { z } from 'zod';
import type { Provider, SandboxContext } from './context';
import {
  errorReply,
  header,
  json,
  parseBody,
  randomId,
  safeEqual,
  sleep,
  type Reply,
  type SandboxRequest,
} from './http';
import { idempotencyKey } from './idempotency';
import type { WebhookSender } from './webhooks';

/** TurboDocx-like: asynchronous generation jobs, polled or announced by signed webhook. */

type JobStatus = 'queued' | 'processing' | 'completed' | 'failed';

interface Job {
  jobId: string;
  status: JobStatus;
  template: string;
  idempotencyKey: string;
  documentUrl?: string;
  error?: string;
}

const generateSchema = z.object({
  template: z.string().min(1).max(200),
  data: z.record(z.string(), z.unknown()),
});

const jobMsSchema = z.coerce.number().int().min(0).max(600_000);

/** A few bytes that look like a PDF, served at `documentUrl`. */
const fakePdf = Buffer.from('%PDF-1.4\n% sandbox document\n%%EOF\n', 'utf8');

export function documentsProvider(ctx: SandboxContext, webhooks: WebhookSender): Provider {
  const jobs = new Map<string, Job>();

  function authenticate(req: SandboxRequest): Reply | null {
    const key = header(req, 'x-api-key');
    return key !== undefined && safeEqual(key, ctx.credentials.documentsApiKey)
      ? null
      : errorReply(401, 'unauthorized');
  }

  function view(job: Job): Record<string, unknown> {
    return {
      jobId: job.jobId,
      status: job.status,
      ...(job.documentUrl !== undefined ? { documentUrl: job.documentUrl } : {}),
      ...(job.error !== undefined ? { error: job.error } : {}),
    };
  }

  /** Runs in the background: queued -> processing at half time -> completed/failed, then the webhook. */
  async function runJob(job: Job, ms: number, fail: boolean): Promise<void> {
    const signal = ctx.signal();
    if (!(await sleep(Math.floor(ms / 2), signal))) return;
    job.status = 'processing';
    if (!(await sleep(ms - Math.floor(ms / 2), signal))) return;
    if (fail) {
      job.status = 'failed';
      job.error = 'render_failed';
    } else {
      job.status = 'completed';
      job.documentUrl = `${ctx.baseUrl()}/documents/files/${job.jobId}.pdf`;
      ctx.ledger.record({
        provider: 'documents',
        effect: 'document.generated',
        idempotencyKey: job.idempotencyKey,
        resourceId: job.jobId,
        request: { template: job.template },
      });
    }
    webhooks.send({
      id: randomId('evt'),
      type: fail ? 'document.failed' : 'document.completed',
      createdAt: new Date(ctx.now()).toISOString(),
      data: fail ? { jobId: job.jobId, error: job.error } : { jobId: job.jobId, documentUrl: job.documentUrl },
    });
  }

  function generate(req: SandboxRequest): Reply {
    const denied = authenticate(req);
    if (denied) return denied;
    const key = idempotencyKey(req, 'idempotency-key', { required: true, missingError: 'missing_idempotency_key' });
    if (!key.ok) return key.reply;
    const idemKey = key.value ?? '';
    const body = parseBody(req, generateSchema);
    if (!body.ok) return body.reply;
    const jobMsHeader = header(req, 'x-sandbox-job-ms');
    const jobMs =
      jobMsHeader === undefined
        ? { success: true as const, data: ctx.config.jobMs }
        : jobMsSchema.safeParse(jobMsHeader);
    if (!jobMs.success) return errorReply(400, 'invalid_job_ms');
    const fail = header(req, 'x-sandbox-job-outcome') === 'failed';
    const input = body.value;
    return ctx.idempotency.run('documents.generate', idemKey, input, () => {
      const job: Job = { jobId: randomId('job'), status: 'queued', template: input.template, idempotencyKey: idemKey };
      jobs.set(job.jobId, job);
      void runJob(job, jobMs.data, fail);
      return json(202, { jobId: job.jobId, status: 'queued' });
    });
  }

  function getJob(req: SandboxRequest): Reply {
    const denied = authenticate(req);
    if (denied) return denied;
    const job = jobs.get(req.params.jobId ?? '');
    return job ? json(200, view(job)) : errorReply(404, 'not_found');
  }

  /** Unauthenticated like a pre-signed URL: the random job id is the capability. */
  function getFile(req: SandboxRequest): Reply {
    const jobId = (req.params.file ?? '').replace(/\.pdf$/, '');
    const job = jobs.get(jobId);
    if (job?.status !== 'completed') return errorReply(404, 'not_found');
    return { status: 200, raw: { contentType: 'application/pdf', data: fakePdf } };
  }

  return {
    name: 'documents',
    routes: [
      { method: 'POST', pattern: '/documents/generate', handle: generate },
      { method: 'GET', pattern: '/documents/jobs/:jobId', handle: getJob },
      { method: 'GET', pattern: '/documents/files/:file', handle: getFile },
    ],
    reset() {
      jobs.clear();
    },
    clearRecords() {
      // Jobs are kept: clients may still be polling them.
    },
  };
}
