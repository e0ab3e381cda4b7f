import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { breakerPosition } from '../control/control-plane';
import { controlState, controlWorkflowId, type ControlState } from '../control/messages';
import { IntegrationName, NeedsAttention, WorkflowStage } from '../contracts/search-attributes';
import type { Integration } from '../integrations/kit/define';
import {
  DEFAULT_ERROR_RATE_THRESHOLD,
  healthOf,
  healthRule,
  killSwitchesOf,
  lastIncident,
  type BreakerPosition,
  type Health,
} from './rules';

/** A provider's own status page, as an incident source reports it (src/status/server.ts `incidents`). */
export interface ProviderIncident {
  status: string;
  title: string;
  url?: string;
  updatedAt: string;
}

export type IncidentSource = (integration: string) => Promise<ProviderIncident | undefined>;

export interface IntegrationStatus {
  name: string;
  version: string;
  purpose: string;
  owner: string;
  support: { contact: string; escalation: string } | null;
  health: Health;
  /** Why it has that health, worst first (empty when operational). */
  reasons: string[];
  breaker: {
    position: BreakerPosition;
    forced: 'open' | 'closed' | null;
    consecutiveFailures: number;
    opensAfter: number;
    /** ISO time the cooldown ends, while open. */
    openUntil: string | null;
  } | null;
  /** Kill switches on: `*` is the whole integration. Empty when none (or unknown, see `control`). */
  killSwitches: string[];
  /** Workflows parked for an operator on this integration; null when the count failed (see `parkedError`). */
  parked: number | null;
  parkedError?: string;
  /** Failing share of the last 5 minutes' requests (0..1); null when unknown or none were sent (see `errorRateNote`). */
  errorRate: number | null;
  errorRateNote: string;
  /** The last time the breaker opened, and why (from the control workflow's recent history). */
  lastIncident: { at: string; why: string } | null;
  /** What the provider's status page says, when an incident source is configured. */
  providerIncident?: ProviderIncident;
  /** How the control state was read: `ok`, or why it is unknown. */
  control: string;
  /** Temporal UI lists filtered to this integration, and the visibility queries behind them. */
  links: { parked: string; needsAttention: string; control: string };
  queries: { parked: string; needsAttention: string };
}

export interface StatusReport {
  generatedAt: string;
  rule: string;
  errorRateThreshold: number;
  /** Where the error rate comes from: `prometheus <url>` or why there is none. */
  errorRateSource: string;
  temporal: { namespace: string; address?: string; uiUrl: string; reachable: boolean; error?: string };
  integrations: IntegrationStatus[];
}

export interface StatusSourceOptions {
  integrations: readonly Integration[];
  /** A Temporal client; a rejection (Temporal unreachable) makes every live field unknown, with the reason. */
  client: () => Promise<Client>;
  namespace: string;
  /** Shown in the reason when Temporal does not answer, e.g. `127.0.0.1:7233`. */
  address?: string;
  /** The Temporal Web UI's base URL, e.g. `http://127.0.0.1:8233`. */
  uiUrl: string;
  /**
   * Prometheus that scrapes the workers (its HTTP API, e.g. `http://127.0.0.1:9090`): the error rate is
   * `integration_calls_total` of the alert's failure types over `integration_requests_sent_total`, 5 minutes,
   * summed over every worker. Unset: the error rate is unknown (no worker alone knows the fleet's rate).
   */
  prometheusUrl?: string;
  /** @default 0.2 (the IntegrationServerErrorsHigh alert's) */
  errorRateThreshold?: number;
  /** Budget of each read (control query, visibility count, Prometheus). @default 3000 ms */
  readTimeoutMs?: number;
  incidents?: IncidentSource;
  now?: () => number;
}

/** Running workflows parked for an operator on one integration: what `integration_parked_workflows` counts. */
export function parkedQuery(integration: string): string {
  return `${WorkflowStage.name} = 'parked' AND ${IntegrationName.name} = '${integration}' AND ExecutionStatus = 'Running'`;
}

/** What the UI lists under "needs attention" for one integration (parked workflows and an open breaker's control workflow). */
export function needsAttentionQuery(integration: string): string {
  return `${NeedsAttention.name} = true AND ${IntegrationName.name} = '${integration}'`;
}

/** `<ui>/namespaces/<ns>/workflows?query=<visibility query>`: the UI's workflow list, filtered. */
export function uiListUrl(uiUrl: string, namespace: string, query: string): string {
  return `${uiUrl.replace(/\/+$/, '')}/namespaces/${encodeURIComponent(namespace)}/workflows?query=${encodeURIComponent(query)}`;
}

const unwellOutcomes = 'ServerError|Timeout|NetworkError|OutcomeUnknown';
/** The IntegrationServerErrorsHigh alert's ratio, per integration. */
export const ERROR_RATE_PROMQL =
  `sum by (integration) (rate(integration_calls_total{outcome=~"${unwellOutcomes}"}[5m]))` +
  ' / sum by (integration) (rate(integration_requests_sent_total[5m]))';

/**
 * The live status of every integration: the catalog's data, the control workflow's breaker and kill
 * switches, the parked count, the error rate and the last incident. Never throws: what cannot be read is
 * `unknown` (or null) with the reason.
 */
export async function collectStatus(options: StatusSourceOptions): Promise<StatusReport> {
  const now = options.now ?? Date.now;
  const timeoutMs = options.readTimeoutMs ?? 3_000;
  const threshold = options.errorRateThreshold ?? DEFAULT_ERROR_RATE_THRESHOLD;
  let client: Client | undefined;
  let temporalError: string | undefined;
  try {
    const connected = await withTimeout(options.client(), timeoutMs, 'connecting to Temporal');
    // One cheap call first: when Temporal does not answer it, every read below would only time out.
    await connected.withDeadline(Date.now() + timeoutMs, () => connected.workflowService.getSystemInfo({}));
    client = connected;
  } catch (err) {
    temporalError = `no answer from Temporal${options.address ? ` at ${options.address}` : ''} within ${timeoutMs} ms (${messageOf(err)})`;
  }
  const rates = await errorRates(options.prometheusUrl, timeoutMs);
  const integrations = await Promise.all(
    options.integrations.map((i) =>
      integrationStatus(i, { ...options, client, temporalError, rates, now, timeoutMs, threshold }),
    ),
  );
  const reachable = client !== undefined;
  return {
    generatedAt: new Date(now()).toISOString(),
    rule: healthRule(threshold),
    errorRateThreshold: threshold,
    errorRateSource: rates.source,
    temporal: {
      namespace: options.namespace,
      ...(options.address ? { address: options.address } : {}),
      uiUrl: options.uiUrl,
      reachable,
      ...(temporalError ? { error: temporalError } : {}),
    },
    integrations,
  };
}

interface Context extends Omit<StatusSourceOptions, 'client'> {
  client: Client | undefined;
  temporalError: string | undefined;
  rates: ErrorRates;
  now: () => number;
  timeoutMs: number;
  threshold: number;
}

async function integrationStatus(i: Integration, ctx: Context): Promise<IntegrationStatus> {
  const queries = { parked: parkedQuery(i.name), needsAttention: needsAttentionQuery(i.name) };
  const ui = ctx.uiUrl.replace(/\/+$/, '');
  const links = {
    parked: uiListUrl(ui, ctx.namespace, queries.parked),
    needsAttention: uiListUrl(ui, ctx.namespace, queries.needsAttention),
    control: `${ui}/namespaces/${encodeURIComponent(ctx.namespace)}/workflows/${encodeURIComponent(controlWorkflowId(i.name))}`,
  };
  const [control, parked, providerIncident] = await Promise.all([
    readControl(i, ctx),
    countParked(queries.parked, ctx),
    readIncident(i.name, ctx),
  ]);
  const state = control.state;
  // Without a source of its own, the incident the integration's status page watcher told its control workflow.
  const incident = providerIncident ?? incidentFromControl(state);
  const position = state ? breakerPosition(state, ctx.now()) : undefined;
  const killSwitches = state ? killSwitchesOf(state.killSwitch) : [];
  const rate = ctx.rates.byIntegration?.get(i.name);
  const errorRate = rate ?? null;
  const errorRateNote = ctx.rates.byIntegration
    ? rate === undefined
      ? 'no requests sent in the last 5 minutes'
      : `over the last 5 minutes (${ctx.rates.source})`
    : ctx.rates.source;
  const { health, reasons } = healthOf({
    breaker: position,
    controlUnknown: control.note,
    killSwitches,
    errorRate,
    threshold: ctx.threshold,
  });
  return {
    name: i.name,
    version: i.version,
    purpose: i.purpose,
    owner: i.owner,
    support: i.support ? { contact: i.support.contact, escalation: i.support.escalation } : null,
    health,
    reasons,
    breaker:
      state && position
        ? {
            position,
            forced: state.breaker.forced ?? null,
            consecutiveFailures: state.breaker.consecutiveFailures,
            opensAfter: state.config.failures,
            openUntil:
              position === 'open' && state.breaker.openUntil !== undefined && !state.breaker.forced
                ? new Date(state.breaker.openUntil).toISOString()
                : null,
          }
        : null,
    killSwitches,
    parked: parked.count,
    ...(parked.error ? { parkedError: parked.error } : {}),
    errorRate,
    errorRateNote,
    lastIncident: state ? lastIncident(state.history) : null,
    ...(incident ? { providerIncident: incident } : {}),
    control: control.note ?? 'ok',
    links,
    queries,
  };
}

async function readControl(i: Integration, ctx: Context): Promise<{ state?: ControlState; note?: string }> {
  if (!ctx.client) return { note: `Temporal is unreachable: ${ctx.temporalError ?? 'no client'}` };
  const client = ctx.client;
  const id = controlWorkflowId(i.name);
  try {
    const state = await client.withDeadline(Date.now() + ctx.timeoutMs, () =>
      client.workflow.getHandle(id).query(controlState),
    );
    return { state };
  } catch (err) {
    if (err instanceof WorkflowNotFoundError)
      return { note: `no control workflow ${id} yet: no worker has called ${i.name} on this Temporal server` };
    const message = messageOf(err);
    if (/deadline|timed? ?out/i.test(message))
      return {
        note: `the control workflow ${id} did not answer within ${ctx.timeoutMs} ms: is a worker polling the workflows task queue?`,
      };
    return { note: `Temporal: reading ${id} failed: ${message}` };
  }
}

async function countParked(query: string, ctx: Context): Promise<{ count: number | null; error?: string }> {
  if (!ctx.client) return { count: null, error: 'Temporal is unreachable' };
  const client = ctx.client;
  try {
    const { count } = await client.withDeadline(Date.now() + ctx.timeoutMs, () => client.workflow.count(query));
    return { count };
  } catch (err) {
    return { count: null, error: `the visibility count failed: ${messageOf(err)}` };
  }
}

/** The first open incident `watchProviderStatus` published to the control workflow, if any. */
function incidentFromControl(state: ControlState | undefined | null): ProviderIncident | undefined {
  const first = state?.provider?.incidents[0];
  if (!first) return undefined;
  return {
    status: `${first.impact} impact, ${first.status}`,
    title: first.name,
    ...(first.url ? { url: first.url } : {}),
    updatedAt: first.startedAt,
  };
}

async function readIncident(integration: string, ctx: Context): Promise<ProviderIncident | undefined> {
  if (!ctx.incidents) return undefined;
  try {
    return await withTimeout(ctx.incidents(integration), ctx.timeoutMs, 'the incident source');
  } catch {
    return undefined; // a provider status page that does not answer says nothing about the provider
  }
}

interface ErrorRates {
  /** Per integration, the failing share; undefined when there is no source or it failed. */
  byIntegration?: Map<string, number>;
  source: string;
}

async function errorRates(prometheusUrl: string | undefined, timeoutMs: number): Promise<ErrorRates> {
  if (!prometheusUrl)
    return {
      source:
        'unknown: set PROMETHEUS_URL to a Prometheus that scrapes the workers (no single worker knows the fleet-wide rate)',
    };
  const base = prometheusUrl.replace(/\/+$/, '');
  try {
    const response = await fetch(`${base}/api/v1/query?query=${encodeURIComponent(ERROR_RATE_PROMQL)}`, {
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (!response.ok) return { source: `unknown: Prometheus at ${base} answered ${response.status}` };
    const body = (await response.json()) as {
      data?: { result?: { metric?: { integration?: string }; value?: [number, string] }[] };
    };
    const byIntegration = new Map<string, number>();
    for (const r of body.data?.result ?? []) {
      const value = Number(r.value?.[1]);
      if (r.metric?.integration && Number.isFinite(value)) byIntegration.set(r.metric.integration, value);
    }
    return { byIntegration, source: `Prometheus at ${base}` };
  } catch (err) {
    return { source: `unknown: Prometheus at ${base} did not answer (${messageOf(err)})` };
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
      timer.unref();
    }),
  ]).finally(() => clearTimeout(timer));
}

/** The error's message and its causes' (the SDK wraps gRPC's `14 UNAVAILABLE: ...` in "Failed to query Workflow"). */
function messageOf(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err; e !== undefined && parts.length < 3; e = (e as { cause?: unknown }).cause) {
    const message = (e instanceof Error ? e.message : typeof e === 'string' ? e : 'error').split('\n')[0]!;
    if (message && !parts.some((p) => p.includes(message))) parts.push(message);
    if (!(e instanceof Error)) break;
  }
  return parts.join(': ').slice(0, 300);
}
