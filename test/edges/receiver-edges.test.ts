import { randomBytes } from 'node:crypto';
import { createLogger } from '../../src/observability/logger';
import { standardSignature, turbodocxSignature } from '../../src/sandbox/webhooks';
import { documentsWebhooks } from '../../src/webhooks/providers';
import { startReceiver, type Receiver, type ReceiverOptions, type ReceiverProvider } from '../../src/webhooks/server';
import { testEnv, uniqueId } from '../support/temporal';
import { waitFor } from '../support/wait';
import { rawConnect, rawRequest } from './raw-http';

// The receiver's edges over real sockets: what an attacker (or a broken client) can send.
const secret = `whsec_${randomBytes(24).toString('base64')}`;
const logLines: string[] = [];
const started: Receiver[] = [];

async function receiverWith(
  overrides: Partial<ReceiverOptions> = {},
  provider: Partial<ReceiverProvider> = {},
): Promise<Receiver> {
  const receiver = await startReceiver({
    providers: [{ definition: documentsWebhooks, secrets: [secret], ...provider }],
    // No worker polls this queue: a start only needs Temporal to accept it.
    temporal: { address: testEnv.temporalAddress, taskQueue: uniqueId('edges-idle') },
    limits: { maxBodyBytes: 8 * 1024, headersTimeoutMs: 300, requestTimeoutMs: 600, keepAliveTimeoutMs: 500 },
    logger: createLogger({ name: 'edges', level: 'info', destination: { write: (l) => logLines.push(l) } }),
    ops: { host: '127.0.0.1', port: 0 },
    ...overrides,
  });
  started.push(receiver);
  return receiver;
}

let receiver: Receiver;
beforeAll(async () => {
  receiver = await receiverWith();
});
afterAll(async () => {
  await Promise.all(started.map((r) => r.close()));
});

function event(overrides: Record<string, unknown> = {}) {
  const jobId = `job_${randomBytes(6).toString('hex')}`;
  return {
    id: `evt_${randomBytes(8).toString('hex')}`,
    type: 'document.completed',
    createdAt: new Date().toISOString(),
    data: { jobId, documentUrl: `https://documents.example.com/files/${jobId}.pdf` },
    ...overrides,
  };
}

type Scheme = 'both' | 'standard' | 'hex';

function delivery(e: { id: string }, options: { scheme?: Scheme; skewSeconds?: number; body?: string } = {}) {
  const timestamp = Math.floor(Date.now() / 1000) + (options.skewSeconds ?? 0);
  const body = options.body ?? JSON.stringify(e);
  const scheme = options.scheme ?? 'both';
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'webhook-timestamp': String(timestamp),
  };
  if (scheme !== 'hex') {
    headers['webhook-id'] = e.id;
    headers['webhook-signature'] = standardSignature(secret, e.id, timestamp, body);
  }
  if (scheme !== 'standard') headers['x-turbodocx-signature'] = turbodocxSignature(secret, body);
  return { body, headers };
}

async function post(
  target: Receiver,
  d: { body: string; headers: Record<string, string> },
  extraHeaders: Record<string, string> = {},
) {
  const res = await fetch(`${target.url}/webhooks/documents`, {
    method: 'POST',
    headers: { ...d.headers, ...extraHeaders },
    body: d.body,
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('receiver edges: one answer per request', () => {
  it('answers both of two pipelined requests on one connection', async () => {
    const a = delivery(event());
    const b = delivery(event());
    const conn = await rawConnect(receiver.url);
    conn.socket.write(
      rawRequest('POST', '/webhooks/documents', a.headers, a.body) +
        rawRequest('POST', '/webhooks/documents', b.headers, b.body),
    );
    expect(await conn.responses(2)).toEqual([202, 202]);
    conn.destroy();
  });

  it('gives a forged request pipelined behind a valid one its own 401', async () => {
    const valid = delivery(event());
    const forged = delivery(event());
    forged.headers['x-turbodocx-signature'] = '00'.repeat(32);
    const conn = await rawConnect(receiver.url);
    conn.socket.write(
      rawRequest('POST', '/webhooks/documents', valid.headers, valid.body) +
        rawRequest('POST', '/webhooks/documents', forged.headers, forged.body),
    );
    expect(await conn.responses(2)).toEqual([202, 401]);
    expect(conn.received()).toContain('"error":"signature_mismatch"');
    conn.destroy();
  });

  it('answers five pipelined requests of every kind in order, then closes the idle connection itself', async () => {
    const ok = delivery(event());
    const stale = delivery(event(), { skewSeconds: -3_600 });
    const conn = await rawConnect(receiver.url);
    conn.socket.write(
      rawRequest('POST', '/webhooks/documents', ok.headers, ok.body) +
        rawRequest('GET', '/webhooks/documents', {}) +
        rawRequest('POST', '/webhooks/documents', stale.headers, stale.body) +
        rawRequest('POST', '/webhooks/nobody', ok.headers, ok.body) +
        rawRequest('POST', '/webhooks/documents', ok.headers, ok.body),
    );
    const [first, ...rest] = await conn.responses(5);
    // The same event twice: whichever of the two Temporal saw first was started, the other is a duplicate.
    expect([[first, rest[3]].sort(), rest.slice(0, 3)]).toEqual([
      [200, 202],
      [405, 401, 404],
    ]);
    await conn.untilClosed();
    expect(conn.statuses()).toHaveLength(5);
  });
});

describe('receiver edges: slow, idle and half-open connections are cut', () => {
  it('closes a connection whose headers trickle in a byte at a time (slowloris), answering 408', async () => {
    const conn = await rawConnect(receiver.url);
    const head = 'POST /webhooks/documents HTTP/1.1\r\nhost: edge.test\r\nx-padding: ';
    let i = 0;
    const timer = setInterval(() => {
      if (!conn.closed()) conn.socket.write(i < head.length ? head[i++]! : 'a');
    }, 50);
    try {
      const reply = await conn.untilClosed();
      expect(reply).toMatch(/^HTTP\/1\.1 408 /);
    } finally {
      clearInterval(timer);
    }
  });

  it('answers a body that stops midway with one 408, counted once', async () => {
    const before = receiver.stats().rejected;
    const d = delivery(event());
    const conn = await rawConnect(receiver.url);
    const head = rawRequest('POST', '/webhooks/documents', d.headers, d.body);
    conn.socket.write(head.slice(0, head.length - 10));
    const reply = await conn.untilClosed();
    expect(reply.match(/HTTP\/1\.1 \d{3}/g)).toEqual(['HTTP/1.1 408']);
    const after = receiver.stats().rejected;
    const grew = Object.keys(after).filter((reason) => after[reason] !== before[reason]);
    expect(grew).toEqual(['request_timeout']);
    expect(after.request_timeout).toBe((before.request_timeout ?? 0) + 1);
  });

  it('closes a connection that never sends a byte', async () => {
    const conn = await rawConnect(receiver.url);
    await conn.untilClosed();
    expect(conn.closed()).toBe(true);
  });

  it('closes a half-open connection (the client sent part of a request, then its FIN)', async () => {
    const conn = await rawConnect(receiver.url);
    conn.socket.end('POST /webhooks/documents HTTP/1.1\r\nhost: edge.test\r\n');
    await conn.untilClosed();
    expect(conn.closed()).toBe(true);
  });

  it('closes 60 idle connections and answers a real delivery meanwhile', async () => {
    const idle = await Promise.all(Array.from({ length: 60 }, () => rawConnect(receiver.url)));
    expect((await post(receiver, delivery(event()))).status).toBe(202);
    await Promise.all(idle.map((c) => c.untilClosed()));
    expect(idle.filter((c) => !c.closed())).toHaveLength(0);
  });

  it('drops connections beyond its maximum and serves again once they are gone', async () => {
    const small = await receiverWith({
      limits: { headersTimeoutMs: 2_000, requestTimeoutMs: 4_000, maxConnections: 3 },
    });
    const held = await Promise.all(Array.from({ length: 3 }, () => rawConnect(small.url)));
    await new Promise((r) => setTimeout(r, 100));
    const extra = await rawConnect(small.url);
    await extra.untilClosed();
    expect(extra.statuses()).toEqual([]);
    held.forEach((c) => c.destroy());
    // Once the server has seen them go, a new connection is served.
    let status = 0;
    await waitFor(
      'a new connection to be served',
      async () => {
        status = await post(small, delivery(event())).then(
          (r) => r.status,
          () => 0,
        );
        return status !== 0;
      },
      15_000,
      100,
    );
    expect(status).toBe(202);
  });
});

describe('receiver edges: malformed targets and header forms get a 4xx with a reason, never a 500', () => {
  const targets = [
    '/webhooks/%zz',
    '/webhooks/%E0%A4%A',
    '/webhooks/documents?x=%zz',
    '*',
    'http://evil.example/webhooks/documents',
    '/../../etc/passwd',
    '//webhooks//documents',
    '/webhooks/documents/extra',
    `/webhooks/${'a'.repeat(300)}`,
    '/webhooks/%00',
  ];
  it.each(targets)('answers %s with a 4xx', async (target) => {
    const conn = await rawConnect(receiver.url);
    conn.socket.write(`GET ${target} HTTP/1.1\r\nhost: edge.test\r\n\r\n`);
    const [status] = await conn.responses(1);
    expect(status).toBeGreaterThanOrEqual(400);
    expect(status).toBeLessThan(500);
    expect(conn.received()).toMatch(/"error":"[a-z_]+"/);
    conn.destroy();
  });

  const forms: [string, string][] = [
    ['a header line without a colon', 'POST /webhooks/documents HTTP/1.1\r\nhost: x\r\nno colon here\r\n\r\n'],
    [
      'a space before the colon',
      'POST /webhooks/documents HTTP/1.1\r\nhost: x\r\ncontent-type : application/json\r\n\r\n',
    ],
    ['an obsolete folded header', 'POST /webhooks/documents HTTP/1.1\r\nhost: x\r\nx-a: 1\r\n  folded\r\n\r\n'],
    [
      'two different content-lengths',
      'POST /webhooks/documents HTTP/1.1\r\nhost: x\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\n',
    ],
    [
      'content-length with chunked transfer-encoding',
      'POST /webhooks/documents HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n',
    ],
    [
      'a content-length that is not a number',
      'POST /webhooks/documents HTTP/1.1\r\nhost: x\r\ncontent-length: 12abc\r\n\r\n',
    ],
    [
      'an invalid chunk size',
      'POST /webhooks/documents HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\nwebhook-timestamp: 1\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n',
    ],
    ['a NUL byte in a header value', 'POST /webhooks/documents HTTP/1.1\r\nhost: x\r\nx-a: a\u0000b\r\n\r\n'],
    ['a request line with no version', 'GET /webhooks/documents\r\n\r\n'],
    ['an unknown HTTP version', 'GET /webhooks/documents HTTP/9.9\r\nhost: x\r\n\r\n'],
    ['a lowercase method', 'post /webhooks/documents HTTP/1.1\r\nhost: x\r\n\r\n'],
    [
      'headers larger than the cap',
      `GET /webhooks/documents HTTP/1.1\r\nhost: x\r\nx-big: ${'b'.repeat(20_000)}\r\n\r\n`,
    ],
    ['no Host header', 'GET /webhooks/documents HTTP/1.1\r\n\r\n'],
    ['a target with a control character', 'GET /webhooks/doc\u0001uments HTTP/1.1\r\nhost: x\r\n\r\n'],
  ];
  it.each(forms)('answers %s with a 4xx', async (_name, bytes) => {
    const conn = await rawConnect(receiver.url);
    conn.socket.write(Buffer.from(bytes, 'latin1'));
    const [status] = await conn.responses(1);
    expect(status).toBeGreaterThanOrEqual(400);
    expect(status).toBeLessThan(500);
    conn.destroy();
  });

  it('counted every one of them by reason, and none as an internal error', async () => {
    const stats = (await (await fetch(`${receiver.opsUrl}/stats`)).json()) as { rejected: Record<string, number> };
    expect(Object.keys(stats.rejected).length).toBeGreaterThan(3);
    expect(stats.rejected.internal_error).toBeUndefined();
    expect(logLines.join('\n')).not.toContain('"level":50');
  });
});

describe('receiver edges: keys that name Object.prototype properties', () => {
  it.each(['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf'])(
    'accepts a signed event of type %s as an unknown type (2xx), once',
    async (type) => {
      const e = event({ type, data: {} });
      expect(await post(receiver, delivery(e))).toMatchObject({ status: 202, body: { status: 'accepted' } });
      expect(await post(receiver, delivery(e))).toMatchObject({ status: 200, body: { status: 'duplicate' } });
    },
  );

  it('reads no field inherited through a __proto__ key of the payload', async () => {
    const e = event({ data: { ['__proto__']: { jobId: 'job_injected' } } });
    const body = JSON.stringify(e).replace('"data":{}', '"data":{"__proto__":{"jobId":"job_injected"}}');
    const res = await post(receiver, delivery(e, { body }));
    expect(res).toMatchObject({ status: 400, body: { error: 'invalid_event' } });
  });

  it.each(['constructor', '__proto__', 'toString'])('answers 404 to the provider segment %s', async (name) => {
    const d = delivery(event());
    const res = await fetch(`${receiver.url}/webhooks/${name}`, { method: 'POST', ...d });
    expect([res.status, ((await res.json()) as { error: string }).error]).toEqual([404, 'unknown_provider']);
  });
});

describe('receiver edges: the configured tolerance, both schemes, both directions', () => {
  let wide: Receiver;
  beforeAll(async () => {
    wide = await receiverWith({
      limits: { toleranceSeconds: 900, headersTimeoutMs: 1_000, requestTimeoutMs: 2_000 },
    });
  });

  it.each<[Scheme, number]>([
    ['standard', -600],
    ['standard', 600],
    ['hex', -600],
    ['hex', 600],
    ['both', -600],
  ])(
    'accepts a %s delivery %i s away with a 900 s tolerance (beyond the library window of 300 s)',
    async (scheme, skew) => {
      expect((await post(wide, delivery(event(), { scheme, skewSeconds: skew }))).status).toBe(202);
    },
  );

  it.each<[Scheme, number, string]>([
    ['standard', -1_000, 'timestamp_too_old'],
    ['standard', 1_000, 'timestamp_too_new'],
    ['hex', -1_000, 'timestamp_too_old'],
    ['hex', 1_000, 'timestamp_too_new'],
  ])('refuses a %s delivery %i s away with a 900 s tolerance', async (scheme, skew, reason) => {
    expect(await post(wide, delivery(event(), { scheme, skewSeconds: skew }))).toMatchObject({
      status: 401,
      body: { error: reason },
    });
  });

  it('refuses 200 s of skew with a 100 s tolerance, for each scheme', async () => {
    const narrow = await receiverWith({
      limits: { toleranceSeconds: 100, headersTimeoutMs: 1_000, requestTimeoutMs: 2_000 },
    });
    for (const scheme of ['standard', 'hex'] as const) {
      expect((await post(narrow, delivery(event(), { scheme, skewSeconds: -200 }))).status).toBe(401);
      expect((await post(narrow, delivery(event(), { scheme, skewSeconds: 200 }))).status).toBe(401);
      expect((await post(narrow, delivery(event(), { scheme, skewSeconds: -50 }))).status).toBe(202);
    }
  });
});

describe('receiver edges: downgrade to the scheme that does not sign the timestamp', () => {
  let strict: Receiver;
  beforeAll(async () => {
    strict = await receiverWith({}, { requireSignedTimestamp: true });
  });

  it('refuses a delivery that carries only the hex signature when the signed-timestamp scheme is required', async () => {
    expect(await post(strict, delivery(event(), { scheme: 'hex' }))).toMatchObject({
      status: 401,
      body: { error: 'signed_timestamp_required' },
    });
  });

  it('refuses a captured delivery replayed with its Standard Webhooks headers stripped and a fresh timestamp', async () => {
    const e = event();
    const captured = delivery(e, { skewSeconds: -3_000 });
    const { 'webhook-signature': _s, 'webhook-id': _i, ...stripped } = captured.headers;
    stripped['webhook-timestamp'] = String(Math.floor(Date.now() / 1000));
    expect(await post(strict, { body: captured.body, headers: stripped })).toMatchObject({
      status: 401,
      body: { error: 'signed_timestamp_required' },
    });
  });

  it('accepts Standard Webhooks alone, or with the hex signature', async () => {
    expect((await post(strict, delivery(event(), { scheme: 'standard' }))).status).toBe(202);
    expect((await post(strict, delivery(event(), { scheme: 'both' }))).status).toBe(202);
  });

  it('still accepts the hex scheme alone where it is not required (the default)', async () => {
    expect((await post(receiver, delivery(event(), { scheme: 'hex' }))).status).toBe(202);
  });
});

describe('receiver edges: IP allow-list', () => {
  it('accepts a delivery from an allowed address, directly', async () => {
    const allowed = await receiverWith({}, { allowFrom: ['127.0.0.0/8'] });
    expect((await post(allowed, delivery(event()))).status).toBe(202);
  });

  it('refuses a delivery from an address outside the list with 403, and ignores an untrusted X-Forwarded-For', async () => {
    const elsewhere = await receiverWith({}, { allowFrom: ['203.0.113.0/24'] });
    expect(await post(elsewhere, delivery(event()))).toMatchObject({
      status: 403,
      body: { error: 'source_not_allowed' },
    });
    const spoofed = await post(elsewhere, delivery(event()), { 'x-forwarded-for': '203.0.113.9' });
    expect(spoofed).toMatchObject({ status: 403, body: { error: 'source_not_allowed' } });
  });

  describe('behind a trusted proxy', () => {
    let proxied: Receiver;
    beforeAll(async () => {
      proxied = await receiverWith({ trustedProxies: ['127.0.0.1'] }, { allowFrom: ['203.0.113.0/24'] });
    });

    it('takes the client address from the X-Forwarded-For of the trusted proxy', async () => {
      expect((await post(proxied, delivery(event()), { 'x-forwarded-for': '203.0.113.9' })).status).toBe(202);
    });

    it('refuses a client outside the list, and a forged left-most entry before an untrusted hop', async () => {
      expect((await post(proxied, delivery(event()), { 'x-forwarded-for': '198.51.100.1' })).status).toBe(403);
      const forged = await post(proxied, delivery(event()), { 'x-forwarded-for': '203.0.113.9, 198.51.100.1' });
      expect(forged.status).toBe(403);
    });

    it('refuses a request through the proxy that names no client', async () => {
      expect((await post(proxied, delivery(event()))).status).toBe(403);
    });
  });

  it('refuses to start with an entry that is not an address', async () => {
    await expect(receiverWith({}, { allowFrom: ['10.0.0.0/99'] })).rejects.toThrow(/not an IP address or CIDR/);
  });
});

describe('receiver edges: statistics only on the operations port', () => {
  it('has no /stats (nor /healthz) on the public port', async () => {
    for (const path of ['/stats', '/healthz', '/readyz', '/livez']) {
      expect((await fetch(`${receiver.url}${path}`)).status).toBe(404);
    }
  });

  it('serves /stats, /livez and /readyz (Temporal reachable, secrets loaded) on the operations port', async () => {
    const stats = await fetch(`${receiver.opsUrl}/stats`);
    expect(stats.status).toBe(200);
    expect(await stats.json()).toMatchObject({
      received: expect.any(Number) as number,
      rejected: expect.any(Object) as object,
    });
    expect((await fetch(`${receiver.opsUrl}/livez`)).status).toBe(200);
    const ready = await fetch(`${receiver.opsUrl}/readyz`);
    expect([ready.status, await ready.json()]).toEqual([
      200,
      expect.objectContaining({ checks: { temporal: true, secrets: true } }),
    ]);
  });

  it('is not ready while Temporal is unreachable', async () => {
    const down = await receiverWith({ temporal: { address: '127.0.0.1:9', taskQueue: 'unused', startTimeoutMs: 500 } });
    const ready = await fetch(`${down.opsUrl}/readyz`);
    expect([ready.status, await ready.json()]).toEqual([
      503,
      expect.objectContaining({ checks: { temporal: false, secrets: true } }),
    ]);
  });
});
