import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MockAgent } from 'undici';
import { z } from 'zod';
import { judge, loadFixtures, summarize, writeFixtures } from '../../src/cli/drift-fixtures';
import { apiKey, defineIntegration, get } from '../../src/integrations/kit/define';
import { FailureType } from '../../src/integrations/kit/failures';
import { env, secret } from '../../src/integrations/kit/refs';
import { FileDriftStore } from '../../src/integrations/runtime/drift-store';
import { IntegrationEngine } from '../../src/integrations/runtime/engine';
import { redactSample, scrubPatterns } from '../../src/integrations/runtime/redact';
import { noCallMetrics } from '../../src/observability/call-metrics';
import { drifted, parseFaultSpec } from '../../src/sandbox/faults';
import { captureLogs } from '../support/log-capture';
import { failureOf } from '../support/failures';

const ORIGIN = 'http://127.0.0.1:9';
const API_KEY = 'k-drift-secret-0001';

const Account = z.object({
  id: z.string(),
  holder: z.string(),
  email: z.string(),
  balance: z.number(),
  ssn: z.string().optional(),
});

const bank = defineIntegration({
  name: 'bank',
  version: 'v3',
  purpose: 'drift tests',
  owner: 'tests',
  baseUrl: env('BANK_URL'),
  auth: apiKey({ header: 'x-api-key', key: secret('BANK_KEY') }),
  pii: ['holder', 'email'],
  endpoints: {
    getAccount: get('accounts/:id', {
      params: z.object({ id: z.string() }),
      response: Account,
      pii: ['ssn'],
      profile: 'userFlow',
    }),
  },
});

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'drift-'));
  dirs.push(dir);
  return dir;
}
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** Every file under a directory, as text. */
function everything(dir: string): string {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => readFileSync(join(e.parentPath, e.name), 'utf8'))
    .join('\n');
}

describe('redacting a drift sample', () => {
  it('blanks declared PII and secret-looking keys, keeping each value’s type', () => {
    const out = redactSample(
      { holder: 'Ada Lovelace', email: 'ada@example.org', balance: 12, apiKey: 'abc', nested: { ssn: 123456789 } },
      { pii: ['holder', 'email', 'ssn'], secrets: [] },
    );
    expect(out).toEqual({
      holder: '[redacted]',
      email: 'redacted@example.com',
      balance: 12,
      apiKey: '[redacted]',
      nested: { ssn: 0 },
    });
  });

  it('finds emails, card numbers, tokens and known secrets under any key, renamed ones included', () => {
    const out = redactSample(
      {
        emailAddress: 'grace@navy.example',
        memo: 'card 4242 4242 4242 4242, ping grace@navy.example',
        auth: 'Bearer abc.def.ghi',
        jwt: 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjMifQ.c2lnbmF0dXJl',
        stripeish: 'sk_live_51Habcdefghijklmnop',
        opaque: 'a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7',
        echoed: `your key is ${API_KEY}`,
        pan: 4242424242424242,
        id: '550e8400-e29b-41d4-a716-446655440000',
        count: 4242,
        when: '2026-12-01T15:35:16.000Z',
      },
      { pii: [], secrets: [API_KEY] },
    );
    expect(out).toEqual({
      emailAddress: 'redacted@example.com',
      memo: 'card [redacted-card], ping redacted@example.com',
      auth: '[redacted-token]',
      jwt: '[redacted-token]',
      stripeish: '[redacted-token]',
      opaque: '[redacted-token]',
      echoed: 'your key is [redacted]',
      pan: 0,
      id: '550e8400-e29b-41d4-a716-446655440000',
      count: 4242,
      when: '2026-12-01T15:35:16.000Z',
    });
  });

  it('leaves digit runs that are not card numbers (no Luhn checksum)', () => {
    expect(scrubPatterns('order 1234567890123 shipped')).toBe('order 1234567890123 shipped');
  });

  it('cuts long arrays, keeping the shape', () => {
    const out = redactSample({ items: Array.from({ length: 120 }, (_, i) => ({ n: i })) }, { pii: [], secrets: [] });
    expect((out as { items: unknown[] }).items).toHaveLength(50);
  });
});

describe('the drift sample store', () => {
  it('keeps at most perEndpoint samples per integration and endpoint, the newest', async () => {
    let clock = Date.parse('2026-12-01T10:00:00Z');
    const store = new FileDriftStore({ dir: tempDir(), perEndpoint: 3, now: () => (clock += 1000) });
    const base = { integration: 'bank', endpoint: 'getAccount', version: 'v3', source: 'schema' as const, issues: [] };
    for (let n = 0; n < 7; n++) await store.add({ ...base, body: { n } });
    await store.add({ ...base, endpoint: 'other', body: { n: 'x' } });
    const kept = await store.list();
    expect(kept.filter((s) => s.endpoint === 'getAccount').map((s) => s.body)).toEqual([{ n: 4 }, { n: 5 }, { n: 6 }]);
    expect(kept.filter((s) => s.endpoint === 'other')).toHaveLength(1);
    expect(readdirSync(join(store.dir, 'bank', 'getAccount')).filter((f) => !f.endsWith('.json'))).toEqual([]);
  });

  it('refuses names that would leave its directory', async () => {
    const store = new FileDriftStore({ dir: tempDir() });
    await expect(
      store.add({ integration: '..', endpoint: 'x', version: 'v1', source: 'schema', issues: [], body: {} }),
    ).rejects.toThrow(/unusable integration or endpoint name/);
  });
});

describe('a drifting answer through the call path', () => {
  let agent: MockAgent;
  beforeEach(() => {
    agent = new MockAgent();
    agent.disableNetConnect();
  });
  afterEach(() => agent.close());

  function engine(options: { dir?: string; counted?: unknown[] } = {}) {
    const logs = captureLogs();
    const counted = options.counted ?? [];
    const rt = new IntegrationEngine({
      logger: logs.logger,
      env: { NODE_ENV: 'test', BANK_URL: `${ORIGIN}/`, BANK_KEY: API_KEY },
      dispatcher: () => agent.get(ORIGIN),
      metrics: { ...noCallMetrics, schemaDrift: (e) => counted.push(e) },
      driftSamples: options.dir ? new FileDriftStore({ dir: options.dir, perEndpoint: 5 }) : undefined,
    });
    return { rt, logs, counted };
  }

  function answer(body: unknown): void {
    agent
      .get(ORIGIN)
      .intercept({ path: () => true, method: 'GET' })
      .reply(200, JSON.stringify(body), { headers: { 'content-type': 'application/json' } });
  }

  // The provider renamed `email` and `holder` (so their declared PII names no longer match) and
  // turned the balance into an object; it also echoes our key and a card number.
  const drifted = {
    id: 'acc_1',
    accountHolder: 'Ada Lovelace',
    contactEmail: 'ada.lovelace@example.org',
    balance: { amount: 12, currency: 'EUR' },
    ssn: '078-05-1120',
    note: `key ${API_KEY}, card 4000 0566 5566 5556`,
  };
  const secrets = ['Ada Lovelace', 'ada.lovelace@example.org', API_KEY, '078-05-1120', '4000 0566 5566 5556'];

  it('counts it, records a redacted sample, and keeps PII and secrets out of the store and the logs', async () => {
    const dir = tempDir();
    const { rt, logs, counted } = engine({ dir });
    answer(drifted);
    const failure = await failureOf(rt.call(bank, 'getAccount', { params: { id: 'acc_1' } }, { attempt: 1 }));
    expect(failure.type).toBe(FailureType.InvalidResponse);
    expect(counted).toEqual([{ integration: 'bank', endpoint: 'getAccount', source: 'schema' }]);

    const [sample, ...more] = await new FileDriftStore({ dir }).list();
    expect(more).toEqual([]);
    expect(sample).toMatchObject({
      integration: 'bank',
      endpoint: 'getAccount',
      version: 'v3',
      source: 'schema',
      status: 200,
      issues: [
        { path: 'holder', code: 'invalid_type' },
        { path: 'email', code: 'invalid_type' },
        { path: 'balance', code: 'invalid_type' },
      ],
      body: {
        id: 'acc_1',
        accountHolder: '[redacted]',
        contactEmail: 'redacted@example.com',
        balance: { amount: 12, currency: 'EUR' },
        ssn: '[redacted]',
        note: 'key [redacted], card [redacted-card]',
      },
    });
    const stored = everything(dir);
    const logged = logs.lines().join('\n');
    for (const value of secrets) {
      expect({ value, inStore: stored.includes(value) }).toEqual({ value, inStore: false });
      expect({ value, inLogs: logged.includes(value) }).toEqual({ value, inLogs: false });
    }
    expect(logs.records().find((r) => r.msg === 'schema drift: an answer failed its response schema')).toMatchObject({
      integration: 'bank',
      endpoint: 'getAccount',
      sample: sample!.id,
    });
    await rt.close();
  });

  it('with samples off, still counts and logs it but writes nothing', async () => {
    const { rt, logs, counted } = engine();
    answer(drifted);
    await expect(rt.call(bank, 'getAccount', { params: { id: 'acc_1' } }, { attempt: 1 })).rejects.toThrow();
    expect(counted).toHaveLength(1);
    expect(String(logs.records().find((r) => r.source === 'schema')?.skipped)).toMatch(/samples off/);
    await rt.close();
  });

  it('does not count an answer that matches, or a failure that is not about the schema', async () => {
    const { rt, counted } = engine({ dir: tempDir() });
    answer({ id: 'acc_1', holder: 'A', email: 'a@b.c', balance: 1 });
    await rt.call(bank, 'getAccount', { params: { id: 'acc_1' } }, { attempt: 1 });
    answer({ ok: false, error: 'maintenance' });
    await expect(rt.call(bank, 'getAccount', { params: { id: 'acc_1' } }, { attempt: 1 })).rejects.toThrow(
      /error inside/,
    );
    expect(counted).toEqual([]);
    await rt.close();
  });
});

describe('fixtures from samples', () => {
  const registry = { bank };

  async function samples() {
    const store = new FileDriftStore({ dir: tempDir() });
    await store.add({
      integration: 'bank',
      endpoint: 'getAccount',
      version: 'v3',
      source: 'schema',
      issues: [{ path: 'balance', code: 'invalid_type' }],
      body: { id: 'a', holder: '[redacted]', email: 'redacted@example.com', balance: '12.00' },
    });
    return store.list();
  }

  it('writes one fixture per sample with the current schema’s verdict, and leaves existing ones alone', async () => {
    const dir = tempDir();
    const recorded = await samples();
    const first = writeFixtures(recorded, { registry, dir });
    expect(first.written).toEqual([join(dir, 'bank', 'getAccount', `${recorded[0]!.id}.json`)]);
    const fixture = loadFixtures(dir)[0]?.fixture;
    expect(fixture).toMatchObject({
      expect: 'fail',
      issues: [{ path: 'balance', code: 'invalid_type' }],
      version: 'v3',
    });
    expect(writeFixtures(recorded, { registry, dir })).toMatchObject({ written: [], unchanged: first.written });
    expect(summarize(recorded)).toEqual([
      expect.objectContaining({
        integration: 'bank',
        endpoint: 'getAccount',
        samples: 1,
        paths: ['balance (invalid_type)'],
      }),
    ]);
  });

  it('flips a fixture to expected-pass with --accept once the schema accepts the new shape', async () => {
    const dir = tempDir();
    writeFixtures(await samples(), { registry, dir });
    const widened = defineIntegration({
      ...bank,
      endpoints: {
        getAccount: {
          ...bank.endpoints.getAccount,
          response: Account.extend({ balance: z.union([z.number(), z.string()]) }),
        },
      },
    });
    const fixture = loadFixtures(dir)[0]?.fixture;
    expect(judge({ bank: widened }, 'bank', 'getAccount', fixture?.body)).toEqual({
      known: true,
      pass: true,
      issues: [],
    });
    const result = writeFixtures([], { registry: { bank: widened }, dir, accept: true });
    expect(result.accepted).toHaveLength(1);
    expect(loadFixtures(dir)[0]!.fixture).toMatchObject({ expect: 'pass', issues: [] });
  });

  it('skips a sample whose endpoint is no longer declared, saying so', async () => {
    const recorded = (await samples()).map((s) => ({ ...s, endpoint: 'gone' }));
    expect(writeFixtures(recorded, { registry, dir: tempDir() }).skipped).toEqual([
      expect.stringContaining('no endpoint bank.gone is declared any more'),
    ]);
  });
});

describe('the sandbox fault drift', () => {
  it('renames, retypes and drops fields of the real answer at any depth', () => {
    const parsed = parseFaultSpec('drift;rename=email:emailAddress;retype=tier,amount;drop=notes', 0);
    if (!parsed.ok || parsed.fault.kind !== 'drift') throw new Error(`not a drift fault: ${JSON.stringify(parsed)}`);
    const answer = { items: [{ email: 'a@b.c', tier: 'pro', amount: 12, notes: 'x', nested: { email: 'd@e.f' } }] };
    expect(drifted(answer, parsed.fault)).toEqual({
      items: [{ emailAddress: 'a@b.c', tier: { value: 'pro' }, amount: '12', nested: { emailAddress: 'd@e.f' } }],
    });
  });

  it('refuses a drift fault that changes nothing, saying what it takes', () => {
    expect(parseFaultSpec('drift', 0)).toEqual({
      ok: false,
      error: 'drift needs rename=from:to, retype=field or drop=field',
    });
    const refused = parseFaultSpec('drift;rename=email', 0);
    expect(refused.ok ? 'accepted' : refused.error).toMatch(/from:to/);
  });
});
