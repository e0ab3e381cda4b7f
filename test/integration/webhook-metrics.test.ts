import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type KeyLike } from 'jose';
import { parseCodecRoles } from '../../src/codec/auth';
import { startCodecServer, type CodecServer } from '../../src/codec/codec-server';
import { EncryptionCodec, parseEncryptionKeys } from '../../src/codec/encryption-codec';
import { createLogger } from '../../src/observability/logger';
import { standardSignature, turbodocxSignature } from '../../src/sandbox/webhooks';
import { documentsWebhooks } from '../../src/webhooks/providers';
import { startReceiver, type Receiver } from '../../src/webhooks/server';
import { testEnv, uniqueId } from '../support/temporal';
import { waitFor } from '../support/wait';
import { rawConnect, rawRequest } from '../edges/raw-http';

// The receiver's and the codec server's Prometheus metrics, scraped over real sockets from their
// operations ports after real deliveries. One fresh receiver (and codec server) for this file, so the
// counters hold exactly what this file sent.

/** `name{a="b",...} value` lines of a Prometheus text exposition, keyed by name and sorted labels. */
function samples(text: string): Map<string, number> {
  const found = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) throw new Error(`not an exposition line: ${line}`);
    const labels = (match[2] ?? '')
      .split(/,(?=[a-zA-Z_]+=")/)
      .filter((l) => l !== '')
      .sort()
      .join(',');
    found.set(`${match[1]}{${labels}}`, Number(match[3]));
  }
  return found;
}

/** The key {@link samples} uses for one series. */
function series(name: string, labels: Record<string, string>): string {
  const inner = Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .sort()
    .join(',');
  return `${name}{${inner}}`;
}

async function scrape(url: string): Promise<{ text: string; values: Map<string, number>; type: string | null }> {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  const text = await res.text();
  return { text, values: samples(text), type: res.headers.get('content-type') };
}

describe('webhook receiver /metrics', () => {
  const secret = `whsec_${randomBytes(24).toString('base64')}`;
  const logLines: string[] = [];
  let receiver: Receiver;

  beforeAll(async () => {
    receiver = await startReceiver({
      providers: [{ definition: documentsWebhooks, secrets: [secret] }],
      // No worker polls this queue: a start only needs Temporal to accept it.
      temporal: { address: testEnv.temporalAddress, taskQueue: uniqueId('metrics-idle') },
      logger: createLogger({ name: 'metrics', level: 'info', destination: { write: (l) => logLines.push(l) } }),
      ops: { host: '127.0.0.1', port: 0 },
    });
  });
  afterAll(async () => {
    await receiver.close();
  });

  function delivery(e: { id: string }, overrides: { signatureSecret?: string; contentType?: string } = {}) {
    const timestamp = Math.floor(Date.now() / 1000);
    const body = JSON.stringify(e);
    const signing = overrides.signatureSecret ?? secret;
    return {
      body,
      headers: {
        'content-type': overrides.contentType ?? 'application/json',
        'webhook-id': e.id,
        'webhook-timestamp': String(timestamp),
        'webhook-signature': standardSignature(signing, e.id, timestamp, body),
        'x-turbodocx-signature': turbodocxSignature(signing, body),
      },
    };
  }

  function event() {
    const jobId = `job_${randomBytes(6).toString('hex')}`;
    return {
      id: `evt_${randomBytes(8).toString('hex')}`,
      type: 'document.completed',
      createdAt: new Date().toISOString(),
      data: { jobId, documentUrl: `https://documents.example.com/files/${jobId}.pdf` },
    };
  }

  async function post(path: string, d: { body: string; headers: Record<string, string> }): Promise<number> {
    const res = await fetch(`${receiver.url}${path}`, { method: 'POST', headers: d.headers, body: d.body });
    await res.arrayBuffer();
    return res.status;
  }

  it('counts a valid delivery, a duplicate, a bad signature and a wrong content type, by provider and reason', async () => {
    expect(receiver.metricsUrl).toBe(`${receiver.opsUrl}/metrics`);
    const metricsUrl = receiver.metricsUrl ?? '';

    // Before any delivery: the series the alert divides exist at 0.
    const before = await scrape(metricsUrl);
    expect(before.values.get(series('webhook_received_total', { provider: 'documents' }))).toBe(0);
    expect(before.values.get(series('webhook_accepted_total', { provider: 'documents' }))).toBe(0);

    const valid = event();
    expect(await post('/webhooks/documents', delivery(valid))).toBe(202);
    expect(await post('/webhooks/documents', delivery(valid))).toBe(200); // the same event again
    expect(await post('/webhooks/documents', delivery(event(), { signatureSecret: `whsec_${'x'.repeat(32)}` }))).toBe(
      401,
    );
    expect(await post('/webhooks/documents', delivery(event(), { contentType: 'text/plain' }))).toBe(415);
    // A provider nobody configured, named after an ID: it must not become a label value.
    const stray = event();
    expect(await post(`/webhooks/${stray.id}`, delivery(stray))).toBe(404);

    // Counted once the answer is handed to the socket, which can be just after the client read it.
    const received = (values: Map<string, number>) =>
      (values.get(series('webhook_received_total', { provider: 'documents' })) ?? 0) +
      (values.get(series('webhook_received_total', { provider: 'unknown' })) ?? 0);
    await waitFor('the five answers to be counted', async () => received((await scrape(metricsUrl)).values) >= 5);

    const { text, values, type } = await scrape(metricsUrl);
    expect(type).toMatch(/^text\/plain; version=0\.0\.4/);
    const documents = { provider: 'documents' };
    expect(values.get(series('webhook_received_total', documents))).toBe(4);
    expect(values.get(series('webhook_accepted_total', documents))).toBe(1);
    expect(values.get(series('webhook_duplicates_total', documents))).toBe(1);
    expect(values.get(series('webhook_rejected_total', { ...documents, reason: 'signature_mismatch' }))).toBe(1);
    expect(values.get(series('webhook_rejected_total', { ...documents, reason: 'unsupported_media_type' }))).toBe(1);
    expect(values.get(series('webhook_received_total', { provider: 'unknown' }))).toBe(1);
    expect(values.get(series('webhook_rejected_total', { provider: 'unknown', reason: 'unknown_provider' }))).toBe(1);
    const rejectedSeries = [...values.keys()].filter((k) => k.startsWith('webhook_rejected_total{'));
    expect(rejectedSeries.sort()).toEqual(
      [
        series('webhook_rejected_total', { ...documents, reason: 'signature_mismatch' }),
        series('webhook_rejected_total', { ...documents, reason: 'unsupported_media_type' }),
        series('webhook_rejected_total', { provider: 'unknown', reason: 'unknown_provider' }),
      ].sort(),
    );

    // Acknowledgement latency: one observation per answer, by status class.
    expect(values.get(series('webhook_ack_duration_seconds_count', { ...documents, status: '2xx' }))).toBe(2);
    expect(values.get(series('webhook_ack_duration_seconds_count', { ...documents, status: '4xx' }))).toBe(2);
    expect(values.get(series('webhook_ack_duration_seconds_count', { provider: 'unknown', status: '4xx' }))).toBe(1);
    expect(values.get(series('webhook_ack_duration_seconds_sum', { ...documents, status: '2xx' }))).toBeGreaterThan(0);
    expect(values.get(series('webhook_ack_duration_seconds_bucket', { ...documents, status: '2xx', le: '+Inf' }))).toBe(
      2,
    );

    // Node's process metrics are in the same scrape.
    expect(values.get('process_cpu_user_seconds_total{}')).toBeGreaterThan(0);
    expect(text).toContain('nodejs_eventloop_lag_seconds');

    // No ID, secret or payload data in any label (or anywhere in the scrape).
    for (const leak of [valid.id, stray.id, valid.data.jobId, secret]) expect(text).not.toContain(leak);

    // /stats, on the same port, agrees.
    const stats = (await (await fetch(`${receiver.opsUrl}/stats`)).json()) as Record<string, unknown>;
    expect(stats).toMatchObject({
      accepted: 1,
      duplicates: 1,
      rejected: { signature_mismatch: 1, unsupported_media_type: 1, unknown_provider: 1 },
    });
  });

  it('serves /metrics on the operations port only, and the ops 404 names every route there', async () => {
    const publicMetrics = await fetch(`${receiver.url}/metrics`);
    expect(publicMetrics.status).toBe(404);
    await publicMetrics.arrayBuffer();

    const res = await fetch(`${receiver.opsUrl}/nothing-here`);
    expect(res.status).toBe(404);
    const body = (await res.json()) as { error: string };
    expect(body.error).toBe('no route GET /nothing-here; try GET /livez, GET /readyz, GET /stats, GET /metrics');
  });
});

describe('webhook receiver /metrics: a request the server cuts off', () => {
  let receiver: Receiver;
  beforeAll(async () => {
    receiver = await startReceiver({
      providers: [{ definition: documentsWebhooks, secrets: [`whsec_${randomBytes(24).toString('base64')}`] }],
      temporal: { address: testEnv.temporalAddress, taskQueue: uniqueId('metrics-idle') },
      limits: { headersTimeoutMs: 300, requestTimeoutMs: 600 },
      logger: createLogger({ name: 'metrics', level: 'silent' }),
      ops: { host: '127.0.0.1', port: 0 },
      processMetrics: false,
    });
  });
  afterAll(async () => {
    await receiver.close();
  });

  it('counts a body that stops midway once, as received and rejected for request_timeout', async () => {
    const body = JSON.stringify({ id: 'evt_cut', type: 'document.completed' });
    const conn = await rawConnect(receiver.url);
    // Headers that pass every check before the body (the signature is only checked once it is all there).
    const headers = {
      'content-type': 'application/json',
      'webhook-timestamp': String(Math.floor(Date.now() / 1000)),
      'x-turbodocx-signature': '00',
    };
    const request = rawRequest('POST', '/webhooks/documents', headers, body);
    conn.socket.write(request.slice(0, request.length - 10));
    const reply = await conn.untilClosed();
    expect(reply.match(/HTTP\/1\.1 \d{3}/g)).toEqual(['HTTP/1.1 408']);

    const { values, text } = await scrape(receiver.metricsUrl ?? '');
    // Cut by Node before Fastify answered: no provider to name, one delivery, one refusal.
    expect(values.get(series('webhook_received_total', { provider: 'unknown' }))).toBe(1);
    expect(values.get(series('webhook_received_total', { provider: 'documents' }))).toBe(0);
    expect(values.get(series('webhook_rejected_total', { provider: 'unknown', reason: 'request_timeout' }))).toBe(1);
    expect([...values.keys()].filter((k) => k.startsWith('webhook_rejected_total{'))).toHaveLength(1);
    expect(text).not.toContain('process_cpu_user_seconds_total');
  });
});

describe('codec server /metrics', () => {
  const issuer = 'https://idp.metrics.test';
  const audience = 'temporal-codec';
  const keyId = 'metrics-key-1';
  const codec = new EncryptionCodec(parseEncryptionKeys(`k1:${randomBytes(32).toString('base64')}`));
  let signingKey: KeyLike;
  let jwks: Server;
  let server: CodecServer;

  beforeAll(async () => {
    const pair = await generateKeyPair('ES256');
    signingKey = pair.privateKey;
    const publicJwk = { ...(await exportJWK(pair.publicKey)), kid: keyId, alg: 'ES256', use: 'sig' };
    jwks = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys: [publicJwk] }));
    });
    await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
    server = await startCodecServer({
      codec,
      corsOrigins: [],
      auth: {
        jwksUrl: `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/jwks.json`,
        issuer,
        audience,
        rolesClaim: 'roles',
        roles: parseCodecRoles(JSON.stringify({ operator: { decode: ['default'] } })),
      },
      ops: { host: '127.0.0.1', port: 0 },
    });
  });
  afterAll(async () => {
    await server.close();
    await new Promise<void>((resolve) => jwks.close(() => resolve()));
  });

  async function call(operation: string, body: string, bearer?: string): Promise<number> {
    const res = await fetch(`${server.url}/${operation}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(bearer ? { authorization: `Bearer ${bearer}` } : {}) },
      body,
    });
    await res.arrayBuffer();
    return res.status;
  }

  it('counts decode and encode requests by outcome: ok, unauthorized, forbidden, bad-request', async () => {
    const token = await new SignJWT({ roles: ['operator'] })
      .setProtectedHeader({ alg: 'ES256', kid: keyId })
      .setSubject('operator@example.com')
      .setIssuer(issuer)
      .setAudience(audience)
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(signingKey);
    expect(await call('decode', '{"payloads":[]}', token)).toBe(200);
    expect(await call('decode', '{"payloads":[]}')).toBe(401);
    expect(await call('encode', '{"payloads":[]}', token)).toBe(403); // operators decode only
    expect(await call('decode', '{not json', token)).toBe(400);

    expect(server.metricsUrl).toBe(`${server.opsUrl}/metrics`);
    const metricsUrl = server.metricsUrl ?? '';
    const total = (values: Map<string, number>) =>
      [...values].filter(([k]) => k.startsWith('codec_requests_total{')).reduce((n, [, v]) => n + v, 0);
    await waitFor('the four answers to be counted', async () => total((await scrape(metricsUrl)).values) >= 4);

    const { values, text } = await scrape(metricsUrl);
    const count = (operation: string, outcome: string) =>
      values.get(series('codec_requests_total', { operation, outcome }));
    expect(count('decode', 'ok')).toBe(1);
    expect(count('decode', 'unauthorized')).toBe(1);
    expect(count('encode', 'forbidden')).toBe(1);
    expect(count('decode', 'bad-request')).toBe(1);
    expect(count('encode', 'ok')).toBe(0);
    expect(total(values)).toBe(4);
    expect(text).toContain('process_resident_memory_bytes');
    expect(text).not.toContain('operator@example.com');
  });
});
