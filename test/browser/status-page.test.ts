import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Client, type Connection } from '@temporalio/client';
import { chromium, type Browser, type Page } from 'playwright-core';
import { ControlPlane } from '../../src/control/control-plane';
import { controlWorkflowId, forceBreaker } from '../../src/control/messages';
import { resolveParked } from '../../src/contracts/messages';
import { defineIntegration } from '../../src/integrations/kit/define';
import { payments } from '../../src/integrations/payments/payments.integration';
import { IntegrationEngine } from '../../src/integrations/runtime/engine';
import { startStatusServer, type StatusServer } from '../../src/status/server';
import { collectStatus, parkedQuery, type StatusReport } from '../../src/status/status';
import { connectClient } from '../../src/temporal/connection';
import { captureLogs } from '../support/log-capture';
import { sandboxAdmin } from '../support/sandbox';
import { TMP_DIR } from '../support/stack';
import { testEnv, uniqueId, withWorkers } from '../support/temporal';
import { waitFor } from '../support/wait';
import type { parkOnIntegration } from './status-test.workflows';

/**
 * The status page in headless Chromium, on the real dev server and sandbox: an integration goes from
 * operational to down (its breaker opened by real 503s from the sandbox, through the real control workflow)
 * with one workflow parked on it, then back to operational once the breaker closes and the parked workflow
 * is resolved. The integration is the payments declaration under a name of its own, so no other test's
 * traffic touches its breaker.
 */

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SCREENSHOTS = join(TMP_DIR, 'screenshots');
const UI = 'http://127.0.0.1:8233';
const taskQueue = 'status-page-tests';

describe('the status page in a browser', () => {
  let connection: Connection;
  let client: Client;
  let browser: Browser | undefined;
  let server: StatusServer | undefined;

  beforeAll(async () => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    connection = await connectClient({ address: testEnv.temporalAddress, namespace: 'default' });
    client = new Client({ connection });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
    });
  }, 60_000);

  afterAll(async () => {
    await sandboxAdmin.clearFaults();
    await browser?.close();
    await server?.close();
    await connection.close();
  });

  it('shows an integration go from operational to down, with its parked workflow and UI links, and back', async () => {
    const name = `status${Date.now().toString(36)}`;
    const integration = defineIntegration({ ...payments, name, breaker: { failures: 3, cooldown: '10 minutes' } });
    const control = new ControlPlane({ client, logger: captureLogs().logger });
    const engine = new IntegrationEngine({ logger: captureLogs().logger, control });
    const hello = () => engine.call(integration, 'hello', {}, { attempt: 1 }).catch((err: unknown) => err);
    server = await startStatusServer({
      logger: captureLogs().logger,
      refreshSeconds: 2,
      status: () =>
        collectStatus({
          integrations: [integration],
          client: () => Promise.resolve(client),
          namespace: 'default',
          uiUrl: UI,
        }),
    });
    const page = await browser!.newPage({ viewport: { width: 1600, height: 700 } });
    const row = () => page.locator(`#integration-${name}`);
    const healthShown = async (health: string) => {
      await page.goto(server!.url);
      return (await row().getAttribute('data-health')) === health;
    };
    const shot = async (p: Page, file: string) => {
      const path = join(SCREENSHOTS, file);
      await p.screenshot({ path, fullPage: true });
      const png = readFileSync(path);
      expect(png.subarray(1, 4).toString()).toBe('PNG');
      expect(statSync(path).size).toBeGreaterThan(20_000);
      console.log(`status page screenshot: ${path} (${statSync(path).size} bytes)`);
    };

    await withWorkers(
      async () => {
        // 1. One good call: the control workflow exists, the breaker is closed.
        expect(await hello()).toMatchObject({});
        await control.flush();
        await waitFor('the page to show operational', () => healthShown('operational'), 30_000, 200);
        expect(await row().locator('.status').textContent()).toBe('operational');

        // 2. Three 503s open the breaker; a workflow parks on the integration.
        await sandboxAdmin.fault({
          method: 'GET',
          path: '/payments/hello',
          fault: 'status',
          params: { code: 503 },
          times: 3,
        });
        for (let i = 0; i < 3; i++) await hello();
        await control.flush();
        const parked = client.workflow.start<typeof parkOnIntegration>('parkOnIntegration', {
          taskQueue,
          workflowId: uniqueId('status-parked'),
          args: [name],
        });
        const handle = await parked;
        await waitFor(
          'visibility to count the parked workflow',
          async () => (await client.workflow.count(parkedQuery(name))).count === 1,
          30_000,
          200,
        );
        await waitFor('the page to show down', () => healthShown('down'), 30_000, 200);
        const text = (await row().innerText()).replace(/\s+/g, ' ');
        expect(text).toContain('the circuit breaker is open');
        expect(text).toContain('checkout-team');
        expect(text).toContain('support@payments.example.com');
        expect(text).toContain('+44 20 7946 0101');
        expect(text).toContain('3 consecutive failures (ServerError)');
        expect(await row().locator('.parked-count').textContent()).toBe('1');
        const encoded = encodeURIComponent(parkedQuery(name));
        expect(await row().locator('.link-parked').getAttribute('href')).toBe(
          `${UI}/namespaces/default/workflows?query=${encoded}`,
        );
        expect(await row().locator('.link-attention').getAttribute('href')).toBe(
          `${UI}/namespaces/default/workflows?query=${encodeURIComponent(`NeedsAttention = true AND IntegrationName = '${name}'`)}`,
        );
        expect(await row().locator('.link-control').getAttribute('href')).toBe(
          `${UI}/namespaces/default/workflows/${controlWorkflowId(name)}`,
        );
        await shot(page, 'status-page-down.png');

        const api = (await (await fetch(`${server!.url}/api/status`)).json()) as StatusReport;
        expect(api.integrations[0]).toMatchObject({
          name,
          health: 'down',
          parked: 1,
          breaker: { position: 'open', consecutiveFailures: 3, opensAfter: 3 },
          lastIncident: { why: '3 consecutive failures (ServerError)' },
          support: { contact: 'support@payments.example.com', escalation: '+44 20 7946 0101' },
        });

        // 3. The operator closes the breaker and resolves the parked workflow: operational again.
        await client.workflow
          .getHandle(controlWorkflowId(name))
          .executeUpdate(forceBreaker, { args: [{ mode: 'auto', reason: 'provider recovered' }] });
        await handle.executeUpdate(resolveParked, { args: [{ action: 'retry' }] });
        expect(await handle.result()).toBe('retry');
        await waitFor('the page to show operational again', () => healthShown('operational'), 30_000, 200);
        await waitFor(
          'the parked count to fall to 0',
          async () => {
            await page.goto(server!.url);
            return (await row().locator('.parked-count').textContent()) === '0';
          },
          30_000,
          200,
        );
        await shot(page, 'status-page-recovered.png');
        await Promise.all([engine.close(), control.close()]);
      },
      { integrations: [], testWorkflows: { path: require.resolve('./status-test.workflows'), taskQueue } },
    );
  });
});
