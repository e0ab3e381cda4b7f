import { z } from 'zod';
import { integrations, fileDropIntegrations } from '../../src/integrations';
import { defineIntegration, get } from '../../src/integrations/kit/define';
import { env } from '../../src/integrations/kit/refs';
import { catalog, catalogTable } from '../../src/integrations/catalog';
import { escapeHtml, renderStatusPage } from '../../src/status/page';
import { healthOf, healthRule, killSwitchesOf, lastIncident } from '../../src/status/rules';
import { startStatusServer, type BulkResolve, type StatusServer } from '../../src/status/server';
import { collectStatus, parkedQuery, uiListUrl, type StatusReport } from '../../src/status/status';
import { statusTable } from '../../src/status/terminal';
import { captureLogs } from '../support/log-capture';

const base = {
  name: 'supported',
  version: 'v1',
  purpose: 'test',
  owner: 'test-team',
  baseUrl: env('PAYMENTS_URL'),
  auth: { kind: 'none' as const },
  endpoints: { ping: get('ping', { response: z.object({}) }) },
};

describe('support contacts in declarations', () => {
  it('are declared by every registered integration, shown by the catalog', () => {
    for (const i of [...Object.values(integrations), ...Object.values(fileDropIntegrations)]) {
      expect({ name: i.name, contact: typeof i.support?.contact }).toEqual({ name: i.name, contact: 'string' });
      expect({ name: i.name, escalation: i.support?.escalation.startsWith('+') }).toEqual({
        name: i.name,
        escalation: true,
      });
    }
    expect(catalogTable(catalog(Object.values(integrations)))).toContain(
      'support support@payments.example.com, escalation +44 20 7946 0101',
    );
  });

  it('accept an e-mail address, an https URL or a chat channel, and an international phone number', () => {
    for (const contact of ['help@provider.example', 'https://status.provider.example/support', '#vendor-oncall'])
      expect(() => defineIntegration({ ...base, support: { contact, escalation: '+1 202 555 0100' } })).not.toThrow();
  });

  it('refuse a contact or a phone number that is neither, naming the field', () => {
    expect(() =>
      defineIntegration({ ...base, support: { contact: 'call Bob', escalation: '+1 202 555 0100' } }),
    ).toThrow(
      `integration "supported": support.contact: expected an e-mail address, an https URL or a chat channel such as '#payments-oncall', got "call Bob"`,
    );
    expect(() =>
      defineIntegration({ ...base, support: { contact: 'help@provider.example', escalation: '020 7946 0000' } }),
    ).toThrow(
      `integration "supported": support.escalation: expected a phone number in international form (+, country code, 7 to 15 digits), e.g. '+44 20 7946 0000', got "020 7946 0000"`,
    );
    expect(() =>
      defineIntegration({ ...base, support: { contact: 'http://insecure.example', escalation: '+1 202 555 0100' } }),
    ).toThrow('support.contact');
  });
});

describe('the status rules', () => {
  it('say down when the breaker is open, whatever else holds', () => {
    expect(healthOf({ breaker: 'open', killSwitches: ['*'], errorRate: 0.9 })).toEqual({
      health: 'down',
      reasons: [
        'the circuit breaker is open',
        'the kill switch of the whole integration is on',
        '90 % of the requests of the last 5 minutes failed (over 20 %)',
      ],
    });
  });

  it('say degraded when half-open, when a kill switch is on, or when the error rate passes the threshold', () => {
    expect(healthOf({ breaker: 'half-open', killSwitches: [], errorRate: null }).health).toBe('degraded');
    expect(healthOf({ breaker: 'closed', killSwitches: ['send'], errorRate: 0 })).toEqual({
      health: 'degraded',
      reasons: ['kill switch on for send'],
    });
    expect(healthOf({ breaker: 'closed', killSwitches: [], errorRate: 0.25 }).health).toBe('degraded');
    expect(healthOf({ breaker: 'closed', killSwitches: [], errorRate: 0.25, threshold: 0.5 }).health).toBe(
      'operational',
    );
  });

  it('say operational when none holds, and unknown with the reason when the control state is unread', () => {
    expect(healthOf({ breaker: 'closed', killSwitches: [], errorRate: 0.2 })).toEqual({
      health: 'operational',
      reasons: [],
    });
    expect(
      healthOf({ breaker: undefined, controlUnknown: 'no control workflow yet', killSwitches: [], errorRate: null }),
    ).toEqual({
      health: 'unknown',
      reasons: ['no control workflow yet'],
    });
    expect(healthRule(0.1)).toContain('over 10 % of the requests of the last 5 minutes');
  });

  it('take the last incident from the last opening in the history, and list kill switches', () => {
    const history = [
      { at: '2026-12-01T10:00:00.000Z', event: 'opened: 10 consecutive failures (ServerError)' },
      { at: '2026-12-01T10:01:00.000Z', event: 'half-open: one probe let through' },
      { at: '2026-12-01T10:01:01.000Z', event: 'opened: the probe failed (Timeout)' },
      { at: '2026-12-01T10:02:02.000Z', event: 'closed: the probe succeeded' },
    ];
    expect(lastIncident(history)).toEqual({ at: '2026-12-01T10:01:01.000Z', why: 'the probe failed (Timeout)' });
    expect(lastIncident([])).toBeNull();
    expect(killSwitchesOf({ integration: true, endpoints: ['send'] })).toEqual(['*', 'send']);
  });

  it('link into the Temporal UI with the visibility query URL-encoded', () => {
    expect(uiListUrl('http://ui:8233/', 'prod ns', parkedQuery('email'))).toBe(
      "http://ui:8233/namespaces/prod%20ns/workflows?query=WorkflowStage%20%3D%20'parked'%20AND%20IntegrationName%20%3D%20'email'%20AND%20ExecutionStatus%20%3D%20'Running'",
    );
  });
});

describe('collectStatus without Temporal', () => {
  it('shows every integration as unknown with the reason instead of failing', async () => {
    const report = await collectStatus({
      integrations: [integrations.payments],
      client: () => Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:1')),
      namespace: 'default',
      address: '127.0.0.1:1',
      uiUrl: 'http://127.0.0.1:8233',
      readTimeoutMs: 500,
    });
    expect(report.temporal).toMatchObject({ reachable: false });
    expect(report.temporal.error).toContain('ECONNREFUSED');
    expect(report.integrations[0]).toMatchObject({
      name: 'payments',
      owner: 'checkout-team',
      health: 'unknown',
      parked: null,
      errorRate: null,
      breaker: null,
    });
    expect(report.integrations[0]!.reasons[0]).toContain('Temporal is unreachable');
    expect(report.errorRateSource).toContain('set PROMETHEUS_URL');
  });
});

/** A report as collectStatus makes it, with one hostile string in every field a provider or a declaration fills. */
function report(overrides: Partial<StatusReport['integrations'][number]> = {}): StatusReport {
  const evil = '<script>alert(1)</script>';
  return {
    generatedAt: '2026-12-01T10:00:00.000Z',
    rule: healthRule(),
    errorRateThreshold: 0.2,
    errorRateSource: 'Prometheus at http://127.0.0.1:9090',
    temporal: { namespace: 'default', uiUrl: 'http://127.0.0.1:8233', reachable: true },
    integrations: [
      {
        name: 'email',
        version: 'v1',
        purpose: `Send e-mail ${evil}`,
        owner: 'notifications-team',
        support: { contact: 'support@email.example.com', escalation: '+44 20 7946 0202' },
        health: 'down',
        reasons: ['the circuit breaker is open'],
        breaker: { position: 'open', forced: null, consecutiveFailures: 10, opensAfter: 10, openUntil: null },
        killSwitches: [],
        parked: 3,
        errorRate: 0.5,
        errorRateNote: 'over the last 5 minutes',
        lastIncident: { at: '2026-12-01T09:59:00.000Z', why: `10 consecutive failures ${evil}` },
        providerIncident: {
          status: 'major',
          title: evil,
          url: 'javascript:alert(1)',
          updatedAt: '2026-12-01T09:58:00.000Z',
        },
        control: 'ok',
        links: { parked: 'http://ui/p?q=a&b', needsAttention: 'http://ui/n', control: 'http://ui/c' },
        queries: {
          parked: parkedQuery('email'),
          needsAttention: "NeedsAttention = true AND IntegrationName = 'email'",
        },
        ...overrides,
      },
    ],
  };
}

describe('the status page', () => {
  it('escapes every value and links only http(s) URLs', () => {
    const html = renderStatusPage(report(), { refreshSeconds: 15, bulkResolve: false, tokenRequired: false });
    expect(html).not.toContain('<script>');
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).not.toContain('javascript:');
    expect(html).toContain('href="http://ui/p?q=a&amp;b"');
    expect(html).toContain('<meta http-equiv="refresh" content="15">');
    expect(html).toContain('href="tel:+442079460202"');
    expect(html).not.toContain('resolve-parked');
    expect(escapeHtml(`"'&`)).toBe('&quot;&#39;&amp;');
  });
});

describe('the live catalog in the terminal', () => {
  it('prints one row per integration with its status, breaker, parked count, owner and escalation, then the reasons', () => {
    const text = statusTable(report());
    const row = text.split('\n').find((l) => l.startsWith('email v1'));
    expect(row?.split(/\s{2,}/)).toEqual([
      'email v1',
      'down',
      'open',
      'none',
      '3',
      '50 %',
      '2026-12-01 09:59:00',
      'notifications-team',
      'support@email.example.com',
      '+44 20 7946 0202',
    ]);
    expect(text).toContain('email: down (the circuit breaker is open)');
    expect(text).toContain('Rule: down: the circuit breaker is open');
  });
});

describe('the status server', () => {
  let server: StatusServer | undefined;
  const calls: Parameters<BulkResolve>[0][] = [];
  const start = async (options: { host?: string; token?: string } = {}) => {
    server = await startStatusServer({
      ...options,
      status: () => Promise.resolve(report()),
      logger: captureLogs().logger,
      bulkResolve: (request) => {
        calls.push(request);
        return Promise.resolve({ workflowId: 'bulk-resolve-email-1' });
      },
    });
    return server.url;
  };
  afterEach(async () => {
    await server?.close();
    server = undefined;
    calls.length = 0;
  });
  const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
  const post = (url: string, body: string, headers: Record<string, string> = {}) =>
    fetch(`${url}/integrations/email/resolve-parked`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body,
    });

  it('serves the page with the resolve form, and the same data as JSON', async () => {
    const url = await start();
    const page = await fetch(url);
    expect(page.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(await page.text()).toContain('action="/integrations/email/resolve-parked"');
    expect(await (await fetch(`${url}/api/status`)).json()).toEqual(report());
  });

  it('starts a bulk resolution of the parked query from its own origin, with the decision, reason and requester', async () => {
    const url = await start();
    const answer = await post(
      url,
      form({ action: 'retryWithBudget', budget: '2 hours', reason: 'provider back', requestedBy: 'ana' }),
      {
        origin: url,
      },
    );
    expect(answer.status).toBe(202);
    expect(await answer.text()).toContain('bulk-resolve-email-1');
    expect(calls).toEqual([
      {
        query: parkedQuery('email'),
        decision: { action: 'retryWithBudget', budget: '2 hours' },
        reason: 'provider back',
        requestedBy: 'ana',
      },
    ]);
  });

  it('refuses actions from other origins, without an origin, and bad decisions, starting nothing', async () => {
    const url = await start();
    const body = form({ action: 'retry', reason: 'r', requestedBy: 'ana' });
    expect((await post(url, body, { origin: 'https://evil.example' })).status).toBe(403);
    expect((await post(url, body)).status).toBe(403);
    const bad = await post(url, form({ action: 'skip', reason: 'r', requestedBy: 'ana' }), { origin: url });
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain('decision must be one of retry, retryWithBudget, compensate, fail');
    expect((await post(url, form({ action: 'retry', reason: ' ', requestedBy: 'ana' }), { origin: url })).status).toBe(
      400,
    );
    expect(calls).toEqual([]);
  });

  it('beyond loopback, refuses to start its action without a token, and requires it', async () => {
    await expect(start({ host: '0.0.0.0' })).rejects.toThrow('set STATUS_TOKEN (or STATUS_TOKEN_FILE)');
    const url = (await start({ host: '0.0.0.0', token: 'a-long-operator-token' })).replace('0.0.0.0', '127.0.0.1');
    const body = { action: 'retry', reason: 'r', requestedBy: 'ana' };
    expect((await post(url, form(body), { origin: url })).status).toBe(403);
    expect((await post(url, form({ ...body, token: 'wrong-token-wrong' }), { origin: url })).status).toBe(403);
    expect((await post(url, form({ ...body, token: 'a-long-operator-token' }), { origin: url })).status).toBe(202);
    expect(calls).toHaveLength(1);
  });
});
