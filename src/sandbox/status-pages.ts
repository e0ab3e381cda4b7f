import { z } from 'zod';
import type { Route, SandboxContext } from './context';
import { errorReply, json, parseBody } from './http';
import type { ProviderName } from './types';

/**
 * Each provider's public status page in the Statuspage format (`GET /status/<provider>/api/v2/summary.json`),
 * and admin routes that declare, update and resolve incidents on it, so tests and the demo can make a
 * provider report an outage. The page is a provider route: fault rules apply to it too (a status page
 * can itself be down).
 */

const providers: readonly ProviderName[] = ['payments', 'documents', 'email', 'crm'];
const components = ['API', 'Dashboard', 'Webhooks'] as const;
const impacts = ['none', 'minor', 'major', 'critical'] as const;

interface Incident {
  id: string;
  name: string;
  status: 'investigating' | 'identified' | 'monitoring' | 'resolved';
  impact: (typeof impacts)[number];
  components: string[];
  createdAt: string;
  updatedAt: string;
  resolvedAt?: string;
}

const declareSchema = z.object({
  name: z.string().min(1).max(200),
  impact: z.enum(impacts).default('major'),
  status: z.enum(['investigating', 'identified', 'monitoring']).default('investigating'),
  components: z.array(z.enum(components)).default(['API']),
});
const updateSchema = z.object({
  status: z.enum(['investigating', 'identified', 'monitoring', 'resolved']),
  impact: z.enum(impacts).optional(),
});

/** The component status a page shows while incidents of these impacts touch it. */
function componentStatus(open: Incident[]): string {
  if (open.some((i) => i.impact === 'critical')) return 'major_outage';
  if (open.some((i) => i.impact === 'major')) return 'partial_outage';
  if (open.length > 0) return 'degraded_performance';
  return 'operational';
}

function indicatorOf(open: Incident[]): { indicator: string; description: string } {
  const rank = Math.max(-1, ...open.map((i) => impacts.indexOf(i.impact)));
  if (rank >= 3) return { indicator: 'critical', description: 'Major System Outage' };
  if (rank === 2) return { indicator: 'major', description: 'Partial System Outage' };
  if (rank >= 0) return { indicator: 'minor', description: 'Minor Service Outage' };
  return { indicator: 'none', description: 'All Systems Operational' };
}

export interface StatusPages {
  routes: Route[];
  adminRoutes: Route[];
  reset(): void;
}

export function statusPages(ctx: SandboxContext): StatusPages {
  const incidents = new Map<ProviderName, Incident[]>(providers.map((p) => [p, []]));
  let next = 1;
  const iso = () => new Date(ctx.now()).toISOString();
  const known = (name: string): name is ProviderName => (providers as readonly string[]).includes(name);

  const summary = (provider: ProviderName) => {
    const all = incidents.get(provider)!;
    const open = all.filter((i) => i.status !== 'resolved');
    const incidentJson = (i: Incident) => ({
      id: i.id,
      name: i.name,
      status: i.status,
      impact: i.impact,
      created_at: i.createdAt,
      updated_at: i.updatedAt,
      resolved_at: i.resolvedAt ?? null,
      shortlink: `${ctx.baseUrl()}/status/${provider}/incidents/${i.id}`,
      components: i.components.map((name) => ({ id: `${provider}-${name.toLowerCase()}`, name })),
    });
    return {
      page: {
        id: `sandbox-${provider}`,
        name: `${provider} (sandbox)`,
        url: `${ctx.baseUrl()}/status/${provider}`,
        updated_at: iso(),
      },
      status: indicatorOf(open),
      components: components.map((name) => ({
        id: `${provider}-${name.toLowerCase()}`,
        name,
        status: componentStatus(open.filter((i) => i.components.includes(name))),
      })),
      incidents: open.map(incidentJson),
      scheduled_maintenances: [],
    };
  };

  const routes: Route[] = [
    {
      method: 'GET',
      pattern: '/status/:provider/api/v2/summary.json',
      handle: (req) => {
        const provider = req.params.provider!;
        return known(provider) ? json(200, summary(provider)) : errorReply(404, 'not_found');
      },
    },
  ];

  const adminRoutes: Route[] = [
    {
      method: 'POST',
      pattern: '/admin/status/:provider/incidents',
      handle: (req) => {
        const provider = req.params.provider!;
        if (!known(provider)) return errorReply(404, 'unknown_provider', { message: `one of ${providers.join(', ')}` });
        const input = parseBody(req, declareSchema);
        if (!input.ok) return input.reply;
        const incident: Incident = { id: `inc-${next++}`, ...input.value, createdAt: iso(), updatedAt: iso() };
        incidents.get(provider)!.push(incident);
        return json(201, incident);
      },
    },
    {
      method: 'PATCH',
      pattern: '/admin/status/:provider/incidents/:id',
      handle: (req) => {
        const provider = req.params.provider!;
        const incident = known(provider) ? incidents.get(provider)!.find((i) => i.id === req.params.id) : undefined;
        if (!incident) return errorReply(404, 'unknown_incident');
        const input = parseBody(req, updateSchema);
        if (!input.ok) return input.reply;
        incident.status = input.value.status;
        if (input.value.impact) incident.impact = input.value.impact;
        incident.updatedAt = iso();
        if (incident.status === 'resolved') incident.resolvedAt = iso();
        return json(200, incident);
      },
    },
    {
      method: 'DELETE',
      pattern: '/admin/status/incidents',
      handle: () => {
        for (const list of incidents.values()) list.length = 0;
        return json(200, { ok: true });
      },
    },
  ];

  return {
    routes,
    adminRoutes,
    reset: () => {
      for (const list of incidents.values()) list.length = 0;
    },
  };
}
