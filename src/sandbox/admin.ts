import { applyConfigPatch, configPatchSchema, type SandboxConfig } from './config';
import type { Route, SandboxContext } from './context';
import { faultRuleSchema, type FaultRules } from './faults';
import { errorReply, json, parseBody } from './http';
import type { WebhookSender } from './webhooks';

export interface AdminDeps {
  readonly ctx: SandboxContext;
  readonly faults: FaultRules;
  readonly webhooks: WebhookSender;
  /** Clears the ledger, idempotency stores and the records they describe. */
  clearLedger(): void;
  /**
   * Forgets every idempotency key, as a provider does once its key retention has passed; the ledger and
   * the records (payments, refunds, jobs, customer updates) stay. Returns how many keys were forgotten.
   */
  forgetKeys(): number;
  /** Back to the state right after start-up. */
  resetAll(): void;
  /** Lets providers react to new settings (e.g. a new rate limit starts a fresh window). */
  configChanged(patch: { emailRateLimit?: unknown }): void;
}

function publicConfig(config: SandboxConfig): SandboxConfig {
  return structuredClone(config);
}

/** Test-control endpoints: no auth, which is why the server refuses them from non-loopback peers. */
export function adminRoutes(deps: AdminDeps): Route[] {
  const { ctx } = deps;
  return [
    { method: 'GET', pattern: '/healthz', handle: () => json(200, { ok: true }) },
    // The sandbox is a dev-only process: its health is on its own port, in the shape of the ops servers'.
    { method: 'GET', pattern: '/livez', handle: () => json(200, { status: 'ok', process: 'sandbox' }) },
    { method: 'GET', pattern: '/readyz', handle: () => json(200, { status: 'ready', process: 'sandbox', checks: {} }) },
    { method: 'GET', pattern: '/admin/ledger', handle: () => json(200, ctx.ledger.list()) },
    {
      method: 'DELETE',
      pattern: '/admin/ledger',
      handle: () => {
        deps.clearLedger();
        return json(200, { ok: true });
      },
    },
    {
      method: 'POST',
      pattern: '/admin/forget-keys',
      handle: () => json(200, { ok: true, forgotten: deps.forgetKeys() }),
    },
    { method: 'GET', pattern: '/admin/stats', handle: () => json(200, ctx.stats.snapshot()) },
    // The W3C traceparent each provider request carried (null: none), oldest first.
    { method: 'GET', pattern: '/admin/traces', handle: () => json(200, ctx.traces.list()) },
    { method: 'GET', pattern: '/admin/config', handle: () => json(200, publicConfig(ctx.config)) },
    {
      method: 'POST',
      pattern: '/admin/config',
      handle: (req) => {
        const patch = parseBody(req, configPatchSchema);
        if (!patch.ok) return patch.reply;
        applyConfigPatch(ctx.config, patch.value);
        deps.configChanged(patch.value);
        return json(200, publicConfig(ctx.config));
      },
    },
    { method: 'GET', pattern: '/admin/faults', handle: () => json(200, deps.faults.list()) },
    {
      method: 'POST',
      pattern: '/admin/faults',
      handle: (req) => {
        const input = parseBody(req, faultRuleSchema);
        if (!input.ok) return input.reply;
        const added = deps.faults.add(input.value, ctx.now());
        return added.ok ? json(201, added.rule) : errorReply(400, 'invalid_fault', { message: added.error });
      },
    },
    {
      method: 'DELETE',
      pattern: '/admin/faults',
      handle: () => {
        deps.faults.clear();
        return json(200, { ok: true });
      },
    },
    {
      method: 'DELETE',
      pattern: '/admin/faults/:id',
      handle: (req) =>
        deps.faults.remove(req.params.id ?? '') ? json(200, { ok: true }) : errorReply(404, 'not_found'),
    },
    { method: 'GET', pattern: '/admin/webhooks', handle: () => json(200, deps.webhooks.list()) },
    {
      method: 'POST',
      pattern: '/admin/reset',
      handle: () => {
        deps.resetAll();
        return json(200, { ok: true });
      },
    },
  ];
}
