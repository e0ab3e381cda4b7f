import { defaultPayloadConverter, type Payload, type PayloadCodec } from '@temporalio/common';
import { z } from 'zod';
import { bulkRequestProblems, decodeHeartbeat, splitIntoBatches, type BulkRequest } from '../../src/client/bulk-lane';
import { EncryptionCodec, generateEncryptionKey, parseEncryptionKeys } from '../../src/codec/encryption-codec';
import { Slots } from '../../src/activities/bulk-lane.activities';
import {
  MAX_BATCH_BYTES,
  afterResend,
  afterSkip,
  bulkBatchWorkflowId,
  bulkChunkItems,
  bulkQueueRatePerSecond,
  combineChunks,
  bulkItemKey,
  summarize,
  unknownKeysOf,
  type BulkSendProgress,
  type SendInBulkInput,
} from '../../src/contracts/bulk-lane';
import { defineIntegration, get, post } from '../../src/integrations/kit/define';
import { env } from '../../src/integrations/kit/refs';

const charge = (i: number) => ({ key: `row-${i}`, body: { orderId: `o-${i}`, amount: 100 + i, currency: 'EUR' } });
const request = (extra: Partial<BulkRequest> = {}): BulkRequest => ({
  integration: 'payments',
  endpoint: 'createPayment',
  batchId: 'payouts-2026-12-01',
  items: [charge(1), charge(2)],
  ...extra,
});

describe('the bulk lane: requests', () => {
  it('accepts keyed writes and safe reads', () => {
    expect(bulkRequestProblems(request())).toEqual([]);
    expect(
      bulkRequestProblems(
        request({ endpoint: 'findPayment', items: [{ key: 'a', query: { correlationId: 'order-1:charge' } }] }),
      ),
    ).toEqual([]);
  });

  it('refuses an empty set, too many items, a bad batch ID and a bad concurrency, saying what to send', () => {
    expect(bulkRequestProblems(request({ items: [] }))).toEqual([
      'items must be a non-empty array of { key, body/params }',
    ]);
    expect(bulkRequestProblems(request({ items: Array.from({ length: 100_001 }, (_, i) => charge(i)) }))).toEqual([
      'at most 100000 items per call (got 100001): split them over several batch IDs',
    ]);
    expect(bulkRequestProblems(request({ batchId: 'pay outs/1' }))).toEqual([
      'batchId must be 1-100 letters, digits, ".", "_", ":" or "-" (no secrets or personal data)',
    ]);
    expect(bulkRequestProblems(request({ concurrency: 0, batchSize: 501 }))).toEqual([
      'concurrency must be a whole number from 1 to 100',
      'batchSize must be a whole number from 1 to 500',
    ]);
  });

  it('refuses an unknown integration or endpoint, naming the ones there are', () => {
    expect(bulkRequestProblems(request({ integration: 'paymnts' }))[0]).toMatch(
      /^integration must be one of payments, /,
    );
    expect(bulkRequestProblems(request({ endpoint: 'charge' }))).toEqual([
      'payments has no endpoint "charge": one of hello, createPayment, findPayment, refundPayment',
    ]);
  });

  it('refuses duplicate keys, missing keys and items the endpoint would refuse, naming them', () => {
    const items = [
      charge(1),
      charge(1),
      { body: charge(3).body },
      { key: 'x', body: { ...charge(4).body, amount: -1 } },
    ];
    expect(bulkRequestProblems(request({ items: items as BulkRequest['items'] }))).toEqual([
      'item 1: key "row-1" is used twice (each item needs its own key)',
      'item 2: key must be 1-100 letters, digits, ".", "_", ":" or "-"',
      'item "x": body.amount: Too small: expected number to be >0',
    ]);
  });

  it('refuses a write the provider cannot deduplicate', () => {
    const unkeyed = defineIntegration({
      name: 'unkeyed',
      version: 'v1',
      purpose: 'test',
      owner: 'test',
      baseUrl: env('PAYMENTS_URL'),
      auth: { kind: 'none' },
      endpoints: {
        create: post('x', {
          body: z.object({}),
          response: z.object({}),
          idempotency: 'lookup',
          lookup: { endpoint: 'find', input: () => ({}) },
        }),
        find: get('x', { response: z.object({}).nullable(), notFound: 'null' }),
      },
    });
    expect(
      bulkRequestProblems(request({ integration: 'unkeyed', endpoint: 'create', items: [{ key: 'a', body: {} }] }), {
        unkeyed,
      }),
    ).toEqual([
      'unkeyed.create is a write without an idempotency key: a resend after a crash could apply it twice; send it one workflow per item instead',
    ]);
  });
});

describe('the bulk lane: batches and keys', () => {
  it('splits in order, at most batchSize items and MAX_BATCH_BYTES each, the same way every time', () => {
    const items = Array.from({ length: 1201 }, (_, i) => charge(i));
    const batches = splitIntoBatches(items, 500);
    expect(batches.map((b) => b.length)).toEqual([500, 500, 201]);
    expect(batches.flat()).toEqual(items);
    expect(splitIntoBatches(items, 500)).toEqual(batches);
    const big = Array.from({ length: 10 }, (_, i) => ({ key: `big-${i}`, body: { blob: 'x'.repeat(60_000) } }));
    const byBytes = splitIntoBatches(big, 500);
    expect(byBytes.length).toBeGreaterThan(1);
    for (const b of byBytes) expect(Buffer.byteLength(JSON.stringify(b))).toBeLessThanOrEqual(MAX_BATCH_BYTES + 100);
  });

  it('refuses an item larger than a batch may be', () => {
    expect(() => splitIntoBatches([{ key: 'huge', body: 'x'.repeat(MAX_BATCH_BYTES) }])).toThrow(
      /item "huge" is \d+ bytes: at most 262144 per item/,
    );
  });

  it('derives workflow IDs from the batch ID and index, and item keys from them (never a run ID)', () => {
    const id = bulkBatchWorkflowId('payments', 'createPayment', 'payouts-1', 2);
    expect(id).toBe('bulk-payments-createPayment-payouts-1-2');
    expect(bulkItemKey(id, 'row-7')).toBe('bulk-payments-createPayment-payouts-1-2:row-7');
  });
});

describe('the bulk lane: an integration’s declared concurrency', () => {
  it('holds however many callers run at once, and lets each through in turn', async () => {
    const slots = new Slots(3);
    let running = 0;
    let most = 0;
    const done: number[] = [];
    await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        slots.run(async () => {
          most = Math.max(most, ++running);
          await new Promise((resolve) => setTimeout(resolve, 5));
          running--;
          done.push(i);
        }),
      ),
    );
    expect(most).toBe(3);
    expect(done.sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });
});

describe('the bulk lane: a batch with unknown items, after the operator decides', () => {
  const input = (n: number): SendInBulkInput => ({
    integration: 'payments',
    endpoint: 'createPayment',
    batchId: 'b',
    batchIndex: 0,
    items: Array.from({ length: n }, (_, i) => charge(i)),
    concurrency: 10,
    write: true,
    budgetMs: 60_000,
  });
  const gone = (key: string) => ({ key, type: 'OutcomeUnknown', message: '504' });
  const progress = (ok: string[], unknown: string[]): BulkSendProgress => ({
    ok,
    failed: [{ key: 'row-0', type: 'RequestRejected', message: '422' }],
    unknown: unknown.map(gone),
    foundByLookup: 0,
    resends: unknown.length,
  });

  it('lists every unknown key, even past the 100 listed with their reasons', () => {
    const keys = Array.from({ length: 150 }, (_, i) => `row-${i + 1}`);
    const summary = summarize(input(151), progress([], keys));
    expect(summary.unknowns).toHaveLength(100);
    expect(unknownKeysOf(summary)).toEqual(keys);
    expect(unknownKeysOf(summarize(input(3), progress(['row-1'], ['row-2'])))).toEqual(['row-2']);
  });

  it('adds a resend up (the refused stay refused, the unknown are what the resend left) and counts a skip', () => {
    const first = summarize(input(4), progress(['row-1'], ['row-2', 'row-3']));
    const again = summarize(
      { ...input(4), items: [charge(2), charge(3)] },
      { ...progress(['row-2'], ['row-3']), failed: [] },
    );
    const resent = afterResend(first, again);
    expect(resent).toMatchObject({ items: 4, succeeded: 2, failed: 1, unknown: 1, resends: 3, operatorRetries: 1 });
    expect(resent.unknowns.map((u) => u.key)).toEqual(['row-3']);
    expect(afterSkip(resent)).toMatchObject({
      succeeded: 2,
      failed: 1,
      unknown: 0,
      unknowns: [],
      skipped: 1,
      skippedKeys: ['row-3'],
    });
  });
});

describe('the bulk lane: a rate-limited integration’s chunks', () => {
  it('chunks about 5 s of items at the declared rate, and lets the fleet start rate / chunk of them a second', () => {
    expect([0.1, 1.5, 10, 1000].map(bulkChunkItems)).toEqual([1, 8, 50, 500]);
    // Items a second for the whole fleet: chunk starts a second x items a chunk = the declared rate.
    for (const rate of [0.1, 1.5, 10, 1000])
      expect(bulkQueueRatePerSecond(rate) * bulkChunkItems(rate)).toBeCloseTo(rate);
  });

  it('adds chunk summaries up into the batch’s, every unknown key kept', () => {
    const input: SendInBulkInput = {
      integration: 'email',
      endpoint: 'send',
      batchId: 'b',
      batchIndex: 1,
      items: Array.from({ length: 160 }, (_, i) => charge(i)),
      concurrency: 5,
      write: true,
      budgetMs: 60_000,
      chunkItems: 80,
    };
    const chunk = (from: number): BulkSendProgress => ({
      ok: [],
      failed: [{ key: `row-${from}`, type: 'RequestRejected', message: '422' }],
      unknown: Array.from({ length: 79 }, (_, i) => ({
        key: `row-${from + 1 + i}`,
        type: 'OutcomeUnknown',
        message: '504',
      })),
      foundByLookup: 1,
      resends: 2,
    });
    const parts = [0, 80].map((from) =>
      summarize({ ...input, items: input.items.slice(from, from + 80) }, chunk(from)),
    );
    const batch = combineChunks(input, parts);
    expect(batch).toMatchObject({
      batchIndex: 1,
      items: 160,
      succeeded: 0,
      failed: 2,
      unknown: 158,
      foundByLookup: 2,
      resends: 4,
    });
    expect(batch.unknowns).toHaveLength(100);
    expect(unknownKeysOf(batch)).toHaveLength(158);
  });
});

describe("the bulk lane: a batch's heartbeat as status() reads it", () => {
  const progress: BulkSendProgress = {
    ok: ['row-1', 'row-2'],
    failed: [{ key: 'row-3', type: 'InvalidRequest', message: '422' }],
    unknown: [],
    foundByLookup: 0,
    resends: 1,
  };
  /** Tags each payload's metadata on encode and insists on its own tag on decode: the order shows. */
  const tagging = (tag: string): PayloadCodec => ({
    encode: (payloads: Payload[]) =>
      Promise.resolve(
        payloads.map((p) => ({ ...p, metadata: { ...p.metadata, [`tag-${tag}`]: new Uint8Array([1]) } })),
      ),
    decode: (payloads: Payload[]) =>
      Promise.resolve(
        payloads.map((p) => {
          const { [`tag-${tag}`]: own, ...metadata } = p.metadata ?? {};
          if (!own || Object.keys(metadata).some((k) => k.startsWith('tag-')))
            throw new Error(`${tag} decoded out of order`);
          return { ...p, metadata };
        }),
      ),
  });

  it('decodes through every codec, last first, then the payload converter (encrypted as workers encrypt)', async () => {
    const codecs = [
      tagging('outer'),
      new EncryptionCodec(parseEncryptionKeys(generateEncryptionKey('k1'))),
      tagging('inner'),
    ];
    let payloads = [defaultPayloadConverter.toPayload(progress)];
    for (const codec of codecs) payloads = await codec.encode(payloads);
    expect(new TextDecoder().decode(payloads[0]!.data)).not.toContain('row-1');
    const converter = { payloadConverter: defaultPayloadConverter, payloadCodecs: codecs };
    expect(await decodeHeartbeat(converter, payloads)).toEqual(progress);
  });

  it('answers nothing for an activity that has not heartbeated', async () => {
    const converter = { payloadConverter: defaultPayloadConverter, payloadCodecs: [] };
    expect(await decodeHeartbeat(converter, undefined)).toBeUndefined();
    expect(await decodeHeartbeat(converter, [])).toBeUndefined();
    expect(await decodeHeartbeat(converter, [defaultPayloadConverter.toPayload(progress)])).toEqual(progress);
  });
});
