import { SandboxAdminClient } from '../../src/sandbox/admin-client';
import { startSandbox, type LedgerEntry, type Sandbox, type SandboxCredentials } from '../../src/sandbox/server';

// POST /admin/forget-keys: the provider forgets its idempotency keys (its retention passed), and only
// those. What it did (the ledger) and what it holds (payments, refunds, jobs, customer notes) stay, so a
// resend with an old key applies a second time, which is what the chaos matrix's repeat-start case needs.

const credentials: SandboxCredentials = {
  paymentsClientId: 'client-id',
  paymentsClientSecret: 'client-secret',
  documentsApiKey: 'docs-key',
  emailApiKey: 'email-key',
  crmApiKey: 'crm-key',
  inventoryApiKey: 'inventory-key',
  webhookSecret: 'whsec_c2FuZGJveC10ZXN0LXdlYmhvb2sta2V5LTMyYnl0ZXM=',
};

type Json = Record<string, unknown>;

let sandbox: Sandbox;
let admin: SandboxAdminClient;

beforeAll(async () => {
  sandbox = await startSandbox({ port: 0, credentials });
  admin = new SandboxAdminClient(sandbox.url);
});

afterAll(async () => {
  await sandbox.close();
});

beforeEach(async () => {
  await fetch(`${sandbox.url}/admin/reset`, { method: 'POST' });
});

async function token(): Promise<string> {
  const res = await fetch(`${sandbox.url}/payments/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=client_credentials&client_id=client-id&client_secret=client-secret',
  });
  return ((await res.json()) as Json).access_token as string;
}

async function post(path: string, headers: Record<string, string>, body: unknown): Promise<Response> {
  return fetch(`${sandbox.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
}

async function pay(key: string): Promise<Response> {
  return post(
    '/payments/payments',
    { authorization: `Bearer ${await token()}`, 'x-correlation-id': key },
    { amount: 1250, currency: 'EUR', orderId: 'order-1' },
  );
}

async function sendEmail(key: string): Promise<Response> {
  return post(
    '/email/send',
    { authorization: 'Bearer email-key', 'idempotency-key': key },
    { to: 'ada@example.com', subject: 'Hi', body: 'Hello' },
  );
}

async function patchNotes(id: string, key: string, notes: string): Promise<Response> {
  return fetch(`${sandbox.url}/crm/customers/${id}`, {
    method: 'PATCH',
    headers: { 'x-api-key': 'crm-key', 'content-type': 'application/json', 'idempotency-key': key },
    body: JSON.stringify({ notes }),
  });
}

const effectsOf = (ledger: LedgerEntry[], key: string) =>
  ledger.filter((e) => e.idempotencyKey === key).map((e) => e.effect);

describe('POST /admin/forget-keys', () => {
  it('makes a resend with a remembered key apply again, and says how many keys it forgot', async () => {
    const first = await pay('order-1:charge');
    expect(first.status).toBe(201);
    const replay = await pay('order-1:charge');
    expect(replay.status).toBe(200);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(await sendEmail('order-1:email')).toHaveProperty('status', 202);

    expect(await admin.forgetKeys()).toEqual({ forgotten: 2 });

    const again = await pay('order-1:charge');
    expect(again.status).toBe(201);
    expect(again.headers.get('idempotent-replayed')).toBeNull();
    expect(((await again.json()) as Json).id).not.toBe(((await first.json()) as Json).id);
    expect(await sendEmail('order-1:email')).toHaveProperty('status', 202);

    // Two applications of one key: the duplicate a provider's short retention lets through.
    const ledger = await admin.ledger();
    expect(effectsOf(ledger, 'order-1:charge')).toEqual(['payment.created', 'payment.created']);
    expect(effectsOf(ledger, 'order-1:email')).toEqual(['email.sent', 'email.sent']);
  });

  it('keeps the ledger and the records: payments stay refundable and findable, customer notes stay', async () => {
    const payment = (await (await pay('order-2:charge')).json()) as Json;
    expect(await patchNotes('cus_0007', 'order-2:crm-pending', 'order 2: invoice pending')).toHaveProperty(
      'status',
      200,
    );
    const before = await admin.ledger();

    await admin.forgetKeys();

    expect(await admin.ledger()).toEqual(before);
    const bearer = `Bearer ${await token()}`;
    const found = await fetch(`${sandbox.url}/payments/payments?correlationId=order-2:charge`, {
      headers: { authorization: bearer },
    });
    expect(found.status).toBe(200);
    expect(((await found.json()) as Json).id).toBe(payment.id);
    const refund = await post(
      '/payments/refunds',
      { authorization: bearer, 'x-correlation-id': 'order-2:refund' },
      { paymentId: payment.id, amount: 1250 },
    );
    expect(refund.status).toBe(201);
    const customer = await fetch(`${sandbox.url}/crm/customers/cus_0007`, { headers: { 'x-api-key': 'crm-key' } });
    expect(((await customer.json()) as Json).notes).toBe('order 2: invoice pending');
  });

  it('answers with nothing forgotten when no key is remembered, and only to POST', async () => {
    expect(await admin.forgetKeys()).toEqual({ forgotten: 0 });
    const res = await fetch(`${sandbox.url}/admin/forget-keys`);
    expect(res.status).toBe(405);
  });
});
