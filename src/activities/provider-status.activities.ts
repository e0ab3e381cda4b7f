import { ApplicationFailure, getClient, heartbeat } from '@temporalio/activity';
import { request } from 'undici';
import { z } from 'zod';
import { controlConfigOf } from '../control/control-plane';
import { controlWorkflowId } from '../control/messages';
import { providerStatusChanged, type ProviderIncident, type ProviderStatus } from '../contracts/provider-status';
import { IntegrationName, WorkflowStage } from '../contracts/search-attributes';
import { WORKFLOWS_TASK_QUEUE } from '../contracts/task-queues';
import type { Integration } from '../integrations/kit/define';
import { checkBaseUrl } from '../integrations/runtime/url-policy';

/**
 * Reading a provider's status page and telling the rest of the project what it says (the
 * `watchProviderStatus` workflow's activities, on the integration's own task queue). The page is read
 * with a plain HTTP client, not through the integration's call path: it is another host, and its answers
 * must never count for or against the integration's breaker.
 */

const MAX_PAGE_BYTES = 512 * 1024;
const resolvedStatuses = new Set(['resolved', 'postmortem', 'completed']);

/** The parts of a Statuspage `summary.json` this project reads; everything else is ignored. */
const summarySchema = z.object({
  status: z.object({ indicator: z.string(), description: z.string().default('') }),
  incidents: z
    .array(
      z.object({
        id: z.string(),
        name: z.string(),
        status: z.string(),
        impact: z.string().default('none'),
        created_at: z.string().optional(),
        started_at: z.string().optional(),
        shortlink: z.string().optional(),
        components: z.array(z.object({ name: z.string() })).default([]),
      }),
    )
    .default([]),
  scheduled_maintenances: z.array(z.object({ status: z.string() })).default([]),
});

const indicators = new Set<ProviderStatus['indicator']>(['none', 'minor', 'major', 'critical', 'maintenance']);
const impacts = new Set<ProviderIncident['impact']>(['none', 'minor', 'major', 'critical']);

/** What a summary says of the integration: open incidents touching its declared components. */
export function statusFromSummary(body: unknown, components: readonly string[] | undefined, now: Date): ProviderStatus {
  const parsed = summarySchema.safeParse(body);
  if (!parsed.success)
    throw ApplicationFailure.nonRetryable(
      `not a Statuspage summary.json (${parsed.error.issues[0]?.path.join('.') || 'body'}: ${parsed.error.issues[0]?.message})`,
      'InvalidResponse',
    );
  const summary = parsed.data;
  const wanted = components && components.length > 0 ? new Set(components) : undefined;
  const incidents = summary.incidents
    .filter((i) => !resolvedStatuses.has(i.status))
    .filter((i) => !wanted || i.components.length === 0 || i.components.some((c) => wanted.has(c.name)))
    .map((i): ProviderIncident => ({
      id: i.id,
      name: i.name.slice(0, 200),
      status: i.status,
      impact: impacts.has(i.impact as ProviderIncident['impact']) ? (i.impact as ProviderIncident['impact']) : 'none',
      startedAt: i.started_at ?? i.created_at ?? now.toISOString(),
      ...(i.shortlink && /^https?:\/\//.test(i.shortlink) ? { url: i.shortlink } : {}),
    }));
  const inMaintenance = summary.scheduled_maintenances.some((m) => m.status === 'in_progress');
  const indicator = indicators.has(summary.status.indicator as ProviderStatus['indicator'])
    ? (summary.status.indicator as ProviderStatus['indicator'])
    : 'unknown';
  return {
    indicator: inMaintenance && indicator === 'none' ? 'maintenance' : indicator,
    description: summary.status.description.slice(0, 200),
    incidents,
    checkedAt: now.toISOString(),
  };
}

export interface ProviderStatusActivities {
  /** Reads the integration's status page once. Fails (retryable) when the page cannot be read. */
  readStatusPage(input: { integration: string }): Promise<ProviderStatus>;
  /**
   * Tells the integration's control workflow (started if need be) the new status and, when its incidents
   * changed, every workflow parked on the integration. Returns how many parked workflows were told.
   */
  publishProviderStatus(input: {
    integration: string;
    status: ProviderStatus;
    incidentsChanged: boolean;
  }): Promise<number>;
}

export function createProviderStatusActivities(
  integration: Integration,
  env: NodeJS.ProcessEnv = process.env,
): ProviderStatusActivities {
  const page = integration.statusPage!;
  return {
    async readStatusPage() {
      const raw = env[page.url.name];
      if (!raw)
        throw ApplicationFailure.nonRetryable(
          `${integration.name}: set ${page.url.name} to the provider's status page (…/api/v2/summary.json)`,
          'Misconfigured',
        );
      let url: URL;
      try {
        url = checkBaseUrl(
          raw,
          env.NODE_ENV || 'development',
          (env.ALLOW_HTTP_HOSTS ?? '').split(',').map((h) => h.trim()),
        );
      } catch (err) {
        throw ApplicationFailure.nonRetryable(`${page.url.name}: ${(err as Error).message}`, 'Misconfigured');
      }
      const res = await request(url, {
        method: 'GET',
        headers: { accept: 'application/json' },
        headersTimeout: 5_000,
        bodyTimeout: 5_000,
      });
      if (res.statusCode !== 200) {
        await res.body.dump();
        throw ApplicationFailure.retryable(`status page answered ${res.statusCode}`, 'ServerError');
      }
      const length = Number(res.headers['content-length'] ?? 0);
      if (length > MAX_PAGE_BYTES) {
        await res.body.dump();
        throw ApplicationFailure.retryable(`status page is ${length} bytes, over ${MAX_PAGE_BYTES}`, 'InvalidResponse');
      }
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of res.body) {
        size += (chunk as Buffer).length;
        if (size > MAX_PAGE_BYTES) {
          res.body.destroy();
          throw ApplicationFailure.retryable(`status page is over ${MAX_PAGE_BYTES} bytes`, 'InvalidResponse');
        }
        chunks.push(chunk as Buffer);
      }
      let body: unknown;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        throw ApplicationFailure.retryable('status page did not answer JSON', 'InvalidResponse');
      }
      return statusFromSummary(body, page.components, new Date());
    },

    async publishProviderStatus({ status, incidentsChanged }) {
      const client = getClient();
      await client.workflow.signalWithStart('integrationControl', {
        taskQueue: WORKFLOWS_TASK_QUEUE,
        workflowId: controlWorkflowId(integration.name),
        args: [controlConfigOf(integration)],
        signal: providerStatusChanged,
        signalArgs: [status],
      });
      if (!incidentsChanged) return 0;
      let told = 0;
      const query = `${WorkflowStage.name} = 'parked' AND ${IntegrationName.name} = '${integration.name}' AND ExecutionStatus = 'Running'`;
      for await (const execution of client.workflow.list({ query })) {
        try {
          await client.workflow.getHandle(execution.workflowId, execution.runId).signal(providerStatusChanged, status);
          told++;
        } catch {
          // Resolved and finished since it was listed: nothing to tell it.
        }
        heartbeat(told);
      }
      return told;
    },
  };
}
