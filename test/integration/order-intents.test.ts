import { chargeRequest, IntegrationsClient } from '../../src/client';
import { OrderIntents } from '../../src/client/order-intents';
import { EncryptionCodec, generateEncryptionKey, parseEncryptionKeys } from '../../src/codec/encryption-codec';
import { chargeSettled, orderWorkflowId } from '../../src/contracts/messages';
import { payments } from '../../src/integrations/payments/payments.integration';
import { IntegrationEngine } from '../../src/integrations/runtime/engine';
import { sandboxAdmin } from '../support/sandbox';
import { testLogger } from '../support/stack';
import { testEnv, uniqueId, withWorkers } from '../support/temporal';
import { sql, testDatabase } from '../support/pg';
import { waitFor } from '../support/wait';

const database = testDatabase;
const tables: string[] = [];
const logger = testLogger().child({ component: 'order-intents' });
const newIntents = (options: { graceMs?: number; pollMs?: number; url?: string } = {}) => {
  const table = `order_intents_test_${uniqueId('t')
    .replace(/[^a-z0-9]/gi, '_')
    .toLowerCase()}`;
  tables.push(table);
  return new OrderIntents({ url: database, table, logger, ...options });
};
const charges = async (orderId: string) =>
  (await sandboxAdmin.ledger())
    .filter((e) => e.idempotencyKey?.startsWith(`order-${orderId}:`) && e.effect === 'payment.created')
    .map((e) => e.resourceId);

describe('startOrder with the order recorded first (directCalls + orderIntents)', () => {
  let engine: IntegrationEngine;
  beforeAll(() => {
    engine = new IntegrationEngine({ logger: logger.child({ component: 'direct-calls' }) });
  });
  afterAll(async () => {
    await engine.close();
    for (const table of tables) await sql(`DROP TABLE IF EXISTS ${table}`);
  });
  afterEach(() => sandboxAdmin.clearFaults());

  it('answers from its send, the start landing alongside; the step takes that payment: one charge, row marked', async () => {
    const intents = newIntents();
    const client = await IntegrationsClient.connect({
      address: testEnv.temporalAddress,
      directCalls: engine,
      orderIntents: intents,
    });
    const orderId = uniqueId('recorded');
    try {
      const { started, status, workflowCharge } = await withWorkers(async () => {
        const started = await client.startOrder({ orderId, customerId: 'cus_0021', amount: 1500, currency: 'EUR' });
        // Asked at once: this client waits for its own start to land before querying.
        const status = await client.orderStatus(orderId);
        const handle = client.temporal.workflow.getHandle(orderWorkflowId(orderId));
        const workflowCharge = await handle.executeUpdate(chargeSettled);
        await handle.terminate('test done');
        return { started, status, workflowCharge };
      });
      expect(started).toMatchObject({ answeredBy: 'direct call', charge: { charged: true } });
      expect(['charging', 'charged', 'invoicing', 'emailing', 'completing', 'completed']).toContain(status.stage);
      expect(workflowCharge).toEqual(started.charge);
      expect(await charges(orderId)).toEqual([started.charge.paymentId]);
      await waitFor('the row marked started', async () => (await intents.unstarted()) === 0, 30_000);
    } finally {
      await client.close();
    }
  });

  it('sends once for an order started twice at once and again after: the repeats attach, with the recorded start', async () => {
    const client = await IntegrationsClient.connect({
      address: testEnv.temporalAddress,
      directCalls: engine,
      orderIntents: newIntents(),
    });
    const orderId = uniqueId('recorded-twice');
    const input = { orderId, customerId: 'cus_0022', amount: 2500, currency: 'EUR' };
    try {
      const answers = await withWorkers(async () => {
        const both = await Promise.all([client.startOrder(input), client.startOrder(input)]);
        const again = await client.startOrder(input);
        await client.temporal.workflow.getHandle(orderWorkflowId(orderId)).terminate('test done');
        return [...both, again];
      });
      const paymentIds = new Set(answers.map((a) => a.charge.paymentId));
      expect(answers.every((a) => a.charge.charged)).toBe(true);
      expect(paymentIds.size).toBe(1);
      expect(answers.filter((a) => a.answeredBy === 'direct call')).toHaveLength(1);
      expect(await charges(orderId)).toEqual([...paymentIds]);
    } finally {
      await client.close();
    }
  });

  it("starts the order of a service that died after recording and sending it: the relay's start, one charge", async () => {
    const intents = newIntents({ graceMs: 500, pollMs: 200 });
    const orderId = uniqueId('recorded-orphan');
    const workflowId = orderWorkflowId(orderId);
    const input = { orderId, customerId: 'cus_0023', amount: 900, currency: 'EUR' };
    // What a service that dies right after its send leaves: the record and the applied charge, no start.
    await intents.ensureSchema();
    const claim = await intents.claim(workflowId, {
      args: [{ ...input, directCharge: { sentUntil: Date.now() + 1_500, endSignalled: true } }],
      staticSummary: `Fulfil order ${orderId}`,
    });
    expect(claim).toEqual({ first: true });
    const sent = (await engine.call(payments, 'createPayment', chargeRequest(workflowId, input), {
      attempt: 1,
      workflowId,
    })) as { id: string };
    // Another instance of the service, with the same store: its relay starts the recorded order.
    const survivor = await IntegrationsClient.connect({
      address: testEnv.temporalAddress,
      directCalls: engine,
      orderIntents: intents,
    });
    try {
      const workflowCharge = await withWorkers(async () => {
        await waitFor('the relay started the order', async () => (await intents.unstarted()) === 0, 60_000);
        const handle = survivor.temporal.workflow.getHandle(workflowId);
        const charge = await handle.executeUpdate(chargeSettled);
        await handle.terminate('test done');
        return charge;
      });
      expect(workflowCharge).toEqual({ charged: true, paymentId: sent.id });
      expect(await charges(orderId)).toEqual([sent.id]);
    } finally {
      await survivor.close();
    }
  });

  it('starts first, then charges, when the store fails after start-up: still one charge, answered by the send', async () => {
    const intents = newIntents();
    const client = await IntegrationsClient.connect({
      address: testEnv.temporalAddress,
      directCalls: engine,
      orderIntents: intents,
    });
    const orderId = uniqueId('recorded-store-down');
    try {
      // The store's table is gone (a failed migration, a wrong database): every INSERT fails.
      await sql(`DROP TABLE ${tables.at(-1)!}`);
      const { started, workflowCharge } = await withWorkers(async () => {
        const started = await client.startOrder({ orderId, customerId: 'cus_0024', amount: 700, currency: 'EUR' });
        const handle = client.temporal.workflow.getHandle(orderWorkflowId(orderId));
        const workflowCharge = await handle.executeUpdate(chargeSettled);
        await handle.terminate('test done');
        return { started, workflowCharge };
      });
      expect(started).toMatchObject({ answeredBy: 'direct call', charge: { charged: true } });
      expect(workflowCharge).toEqual(started.charge);
      expect(await charges(orderId)).toEqual([started.charge.paymentId]);
    } finally {
      await client.close();
    }
  });

  it('keeps a row whose start Temporal refuses, counted, and marks it once a start goes through', async () => {
    const intents = newIntents({ graceMs: 0 });
    await intents.ensureSchema();
    const workflowId = orderWorkflowId(uniqueId('recorded-refused'));
    const recorded = {
      args: [{ orderId: 'x', customerId: 'cus_0025', amount: 100, currency: 'EUR' }] as const,
      staticSummary: 's',
    };
    await intents.claim(workflowId, recorded);
    const refused = await intents.relayOnce(() => Promise.reject(new Error('namespace not found')));
    expect(refused).toBe(0);
    expect(await intents.unstarted()).toBe(1);
    const starts: string[] = [];
    expect(await sql(`SELECT attempts, last_error FROM ${tables.at(-1)!}`)).toEqual([
      { attempts: 1, last_error: 'namespace not found' },
    ]);
    const started = await intents.relayOnce((id, start) => {
      starts.push(`${id} ${(start as typeof recorded).args[0].customerId}`);
      return Promise.resolve();
    });
    expect(started).toBe(1);
    expect(starts).toEqual([`${workflowId} cus_0025`]);
    expect(await intents.unstarted()).toBe(0);
    // A repeat call gets the recorded start, not its own.
    expect(await intents.claim(workflowId, { ...recorded, staticSummary: 'other' })).toEqual({
      first: false,
      start: recorded,
    });
    await intents.close();
  });

  it('keeps the record encrypted with payload encryption on: no order field in clear, repeats still attach', async () => {
    const dataConverter = {
      payloadCodecs: [new EncryptionCodec(parseEncryptionKeys(generateEncryptionKey('oi-key')))],
    };
    const intents = newIntents();
    const client = await IntegrationsClient.connect({
      address: testEnv.temporalAddress,
      dataConverter,
      directCalls: engine,
      orderIntents: intents,
    });
    const orderId = uniqueId('recorded-encrypted');
    const input = { orderId, customerId: 'cus_0026', amount: 3100, currency: 'EUR' };
    try {
      const answers = await withWorkers(
        async () => {
          const first = await client.startOrder(input);
          const again = await client.startOrder(input);
          await client.temporal.workflow.getHandle(orderWorkflowId(orderId)).terminate('test done');
          return [first, again];
        },
        { dataConverter },
      );
      expect(answers.map((a) => a.answeredBy)).toEqual(['direct call', 'workflow']);
      expect(new Set(answers.map((a) => a.charge.paymentId)).size).toBe(1);
      expect(await charges(orderId)).toEqual([answers[0]!.charge.paymentId]);
      const rows = await sql<{ start: string }>(`SELECT start::text AS start FROM ${tables.at(-1)!}`);
      expect(rows).toHaveLength(1);
      expect(rows[0]!.start).toContain('$payload');
      for (const clear of ['cus_0026', orderId, '3100', 'EUR']) expect(rows[0]!.start).not.toContain(clear);
    } finally {
      await client.close();
    }
  });

  it('refuses to connect with a store it cannot reach, or without directCalls', async () => {
    const unreachable = new OrderIntents({ url: 'postgres://postgres@127.0.0.1:1/test', logger });
    await expect(
      IntegrationsClient.connect({ address: testEnv.temporalAddress, directCalls: engine, orderIntents: unreachable }),
    ).rejects.toThrow(/order intents: the PostgreSQL store cannot be used/);
    await unreachable.close();
    const intents = newIntents();
    await expect(
      IntegrationsClient.connect({ address: testEnv.temporalAddress, orderIntents: intents }),
    ).rejects.toThrow(/pass directCalls/);
    await intents.close();
  });
});
