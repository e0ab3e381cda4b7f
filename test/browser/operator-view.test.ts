import { existsSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { IntegrationsClient } from '../../src/client';
import { startCodecServer, type CodecServer } from '../../src/codec/codec-server';
import {
  ENCRYPTED_ENCODING,
  EncryptionCodec,
  generateEncryptionKey,
  parseEncryptionKeys,
} from '../../src/codec/encryption-codec';
import { startDevServer, type DevServer } from '../../src/devserver/dev-server';
import { orderWorkflowId, parkedState, resolveParked } from '../../src/contracts/messages';
import { sandboxAdmin } from '../support/sandbox';
import { TMP_DIR } from '../support/stack';
import { uniqueId, withWorkers } from '../support/temporal';
import { waitFor } from '../support/wait';

/**
 * What an operator sees in the Temporal Web UI for a parked order: it is listed by `NeedsAttention = true`,
 * its page's details panel says why and gives the exact `resolveParked` command, and once resolved it
 * leaves that list. Payloads are encrypted, as `npm start` runs it: histories hold ciphertext, and the UI
 * shows them decoded through the codec server in laptop mode (loopback, no auth). Runs headless Chromium
 * (Debian's, installed by the test setup) against a dev server of its own started with the UI and the
 * codec endpoint (the global setup's has neither).
 */

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SCREENSHOTS = join(TMP_DIR, 'screenshots');
const ATTENTION_QUERY = 'NeedsAttention = true';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

describe('operator view of a parked order in the Temporal Web UI', () => {
  let devServer: DevServer | undefined;
  let codecServer: CodecServer | undefined;
  let browser: Browser | undefined;
  let uiUrl: string;
  const codec = new EncryptionCodec(parseEncryptionKeys(generateEncryptionKey('ui-test')));
  const dataConverter = { payloadCodecs: [codec] };

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(
        `Chromium is not installed at ${CHROMIUM}: the browser test needs it. Install it with ` +
          '`apt-get update && apt-get install -y chromium` (as .ci/run does), or set CHROMIUM_PATH.',
      );
    }
    mkdirSync(SCREENSHOTS, { recursive: true });
    const [port, uiPort] = [await freePort(), await freePort()];
    // Laptop mode: loopback, no auth, CORS for the UI's origin only.
    codecServer = await startCodecServer({ codec, corsOrigins: [`http://127.0.0.1:${uiPort}`] });
    // Each is kept as soon as it is up, so afterAll stops it even when the other one failed to start.
    await Promise.all([
      startDevServer({ port, uiPort, uiCodecEndpoint: codecServer.url }).then((s) => (devServer = s)),
      chromium
        .launch({
          executablePath: CHROMIUM,
          // No network beyond loopback here: without the background-networking flags Chromium's own
          // connections are refused and slow everything down. `launch` uses a fresh profile directory.
          args: [
            '--headless',
            '--no-sandbox',
            '--disable-gpu',
            '--disable-quic',
            '--no-first-run',
            '--disable-background-networking',
            '--disable-component-update',
            '--disable-sync',
          ],
        })
        .then((b) => (browser = b)),
    ]);
    uiUrl = devServer!.uiUrl!;
    await waitFor(
      'the Web UI to answer',
      async () => (await fetch(uiUrl).catch(() => undefined))?.ok === true,
      15_000,
      100,
    );
  }, 45_000);

  afterAll(async () => {
    await sandboxAdmin.clearFaults();
    await browser?.close();
    await devServer?.stop();
    await codecServer?.close();
  });

  const listUrl = () => `${uiUrl}/namespaces/default/workflows?query=${encodeURIComponent(ATTENTION_QUERY)}`;
  const screenshot = (page: Page, name: string) =>
    page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });

  it('lists the parked order under NeedsAttention = true, shows why and how to resolve it, and drops it once resolved', async () => {
    const orderId = uniqueId('ui-parked');
    const workflowId = orderWorkflowId(orderId);
    const client = await IntegrationsClient.connect({ address: devServer!.address, dataConverter });
    // Wide enough for the details panel to show the whole resolve command in the screenshots.
    const page = await browser!.newPage({ viewport: { width: 1920, height: 1000 } });
    const listed = (id: string) => page.getByRole('link', { name: id, exact: true });
    try {
      await withWorkers(
        async () => {
          // The email provider rejects the credentials: the order parks at its email step.
          await sandboxAdmin.fault({ method: 'POST', path: '/email/send', fault: 'status', params: { code: 401 } });
          await client.startOrder({ orderId, customerId: 'cus_0042', amount: 4200, currency: 'EUR' });
          const handle = client.temporal.workflow.getHandle(workflowId);
          await waitFor('the order to park', async () => (await handle.query(parkedState)) !== null, 20_000, 100);
          // What the server keeps is ciphertext: the UI can only show it through the codec server.
          const started = (await handle.fetchHistory()).events?.[0]?.workflowExecutionStartedEventAttributes;
          const input = started?.input?.payloads?.[0];
          expect(Buffer.from(input?.metadata?.encoding ?? []).toString()).toBe(ENCRYPTED_ENCODING);
          expect(Buffer.from(input?.data ?? []).toString()).not.toContain('cus_0042');
          // Its invoice child workflow (finished, not parked) is on the server too: the filtered list
          // must leave it out, which shows the `query` URL parameter really filters.
          const others: string[] = [];
          await waitFor(
            'visibility to list the invoice job workflow',
            async () => {
              others.length = 0;
              for await (const w of client.temporal.workflow.list())
                if (w.workflowId !== workflowId) others.push(w.workflowId);
              return others.length > 0;
            },
            10_000,
            100,
          );

          // 1. The workflow list, filtered as the README tells operators to.
          await page.goto(listUrl());
          await listed(workflowId).waitFor({ timeout: 15_000 });
          for (const other of others) expect(await listed(other).count()).toBe(0);
          await screenshot(page, '1-needs-attention-list');

          // 2. The workflow's page: its input shown decoded (the customer id is only in the ciphertext);
          //    User Metadata -> Current Details (markdown rendered in an iframe, itself a decoded payload)
          //    says why it is parked and gives the exact command that resolves it.
          await listed(workflowId).click();
          await page.getByText('cus_0042').first().waitFor({ timeout: 15_000 });
          await page.getByRole('tab', { name: 'User Metadata' }).click();
          await page.getByText('Current Details', { exact: true }).waitFor({ timeout: 15_000 });
          // Summary and static Details, when set, come first; Current Details is the last panel.
          const details = page.frameLocator('iframe[title="output"]').last();
          await details.getByText('Parked: needs an operator decision').waitFor({ timeout: 15_000 });
          // The command, one option a line (the panel does not wrap).
          const command = await details
            .locator('code')
            .filter({ hasText: 'resolveParked' })
            .innerText({ timeout: 5_000 });
          expect(command.replace(/\\\n\s*/g, '').trim()).toBe(
            `temporal workflow update execute --workflow-id ${workflowId} --name resolveParked --input '{"action":"retry"}'`,
          );
          await screenshot(page, '2-parked-workflow-details');

          // 3. The operator fixes the credentials and retries; the order completes.
          await sandboxAdmin.clearFaults();
          await handle.executeUpdate(resolveParked, { args: [{ action: 'retry' }] });
          expect(await client.orderResult(orderId)).toMatchObject({ stage: 'completed' });
        },
        { address: devServer!.address, dataConverter },
      );

      // 4. It leaves the list. Visibility is eventually consistent: reload until it is gone (bounded).
      const noResults = page.getByText('No Results', { exact: true });
      await waitFor(
        'the resolved order to leave the NeedsAttention = true list',
        async () => {
          await page.goto(listUrl());
          await listed(workflowId).or(noResults).first().waitFor({ timeout: 10_000 }); // loaded, either way
          return noResults.isVisible();
        },
        15_000,
        250,
      );
      expect(await listed(workflowId).count()).toBe(0);
      await screenshot(page, '3-needs-attention-list-after-resolve');
    } catch (err) {
      await screenshot(page, 'failure').catch(() => {}); // what the page showed when it failed
      throw err;
    } finally {
      await page.close();
      await client.close();
    }
  }, 60_000);
});
