/**
 * A measurement, not part of `npm test` (~45 s): two worker processes send a rate-limited integration's
 * items in bulk (email, declared 100 per minute; the sandbox set to 15 requests per 10 s), and the fleet's rate at
 * the provider and its 429s are printed and checked (`FLEET_RATE_PROVIDER_LIMIT=1000`: the provider does
 * not push back, so the figure is the lane's own fleet-wide pace). Run it with:
 *
 *     npm run check:fleet-rate
 */
import { IntegrationsClient } from '../../src/client';
import { bulkBatchWorkflowId } from '../../src/contracts/bulk-lane';
import { workerProcess } from '../support/worker-process';
import { sandboxAdmin } from '../support/sandbox';
import { testEnv, uniqueId } from '../support/temporal';

const BATCHES = 2;
const PER_BATCH = 15;
/** Requests the sandbox takes per 10 s (15: the declared 1.5/s; set it high to see the lane's own pace). */
const PROVIDER_LIMIT = Number(process.env.FLEET_RATE_PROVIDER_LIMIT ?? 15);

it('keeps a rate-limited lane at its declared rate across two worker processes', async () => {
  await sandboxAdmin.config({ emailRateLimit: { limit: PROVIDER_LIMIT, windowMs: 10_000 } });
  const batchId = uniqueId('fleet-rate');
  const a = workerProcess('fleet-rate-a');
  const b = workerProcess('fleet-rate-b');
  const client = await IntegrationsClient.connect({ address: testEnv.temporalAddress });
  try {
    await Promise.all([a.ready, b.ready]);
    const limitedBefore = (await sandboxAdmin.stats()).emailRateLimited;
    const started = Date.now();
    const handle = await client.sendInBulk({
      integration: 'email',
      endpoint: 'send',
      batchId,
      batchSize: PER_BATCH,
      concurrency: 5,
      items: Array.from({ length: BATCHES * PER_BATCH }, (_, i) => ({
        key: `m-${i}`,
        body: { to: `user${i}@example.com`, subject: 'statement', body: 'your statement is ready' },
      })),
    });
    const summary = await handle.result();
    const wallMs = Date.now() - started;
    const limited = (await sandboxAdmin.stats()).emailRateLimited - limitedBefore;
    const prefixes = Array.from({ length: BATCHES }, (_, i) => bulkBatchWorkflowId('email', 'send', batchId, i));
    const sent = (await sandboxAdmin.ledger())
      .filter((e) => e.effect === 'email.sent' && prefixes.some((p) => e.idempotencyKey?.startsWith(`${p}:`)))
      .map((e) => Date.parse((e as unknown as { at: string }).at))
      .sort((x, y) => x - y);
    let maxIn10s = 0;
    for (let i = 0; i < sent.length; i++) {
      let j = i;
      while (j < sent.length && sent[j]! - sent[i]! < 10_000) j++;
      maxIn10s = Math.max(maxIn10s, j - i);
    }
    const spanS = (sent.at(-1)! - sent[0]!) / 1000;
    console.log(
      `fleet rate: ${sent.length} sent in ${spanS.toFixed(1)} s at the provider (${((sent.length - 1) / spanS).toFixed(2)}/s), ` +
        `max ${maxIn10s} in any 10 s, ${limited} 429s, wall ${(wallMs / 1000).toFixed(1)} s, summary ${JSON.stringify({ succeeded: summary.succeeded, failed: summary.failed, unknown: summary.unknown })}`,
    );
    expect(summary).toMatchObject({ succeeded: BATCHES * PER_BATCH, failed: 0, unknown: 0 });
    expect(limited).toBe(0);
  } finally {
    await Promise.all([a.stop(), b.stop()]);
    await client.close();
    await sandboxAdmin.config({ emailRateLimit: { limit: 100, windowMs: 60_000 } });
  }
}, 180_000);
