import { request } from 'node:http';
import { Client, Connection } from '@temporalio/client';
import { defaultPayloadConverter, type DataConverter } from '@temporalio/common';
import { historyToJSON, type JSONPayload } from '@temporalio/common/lib/proto-utils';
import { IntegrationsClient } from '../../src/client';
import { startCodecServer, type CodecServer } from '../../src/codec/codec-server';
import { EncryptionCodec, generateEncryptionKey, parseEncryptionKeys } from '../../src/codec/encryption-codec';
import { orderWorkflowId, type OrderStatus } from '../../src/contracts/messages';
import { testEnv, uniqueId, withWorkers } from '../support/temporal';

const uiOrigin = 'http://127.0.0.1:8233';
const maxBodyBytes = 64 * 1024;

/** Every payload in a proto-JSON history, with where it sits (search attributes set apart). */
function payloadsOf(node: unknown, path = ''): { path: string; payload: JSONPayload }[] {
  if (typeof node !== 'object' || node === null) return [];
  const found: { path: string; payload: JSONPayload }[] = [];
  const record = node as Record<string, unknown>;
  const metadata = record.metadata as Record<string, unknown> | undefined;
  if (typeof metadata === 'object' && metadata !== null && typeof metadata.encoding === 'string') {
    found.push({ path, payload: record });
  }
  for (const [key, child] of Object.entries(record)) found.push(...payloadsOf(child, `${path}.${key}`));
  return found;
}

const encodingOf = (p: JSONPayload) => Buffer.from(p.metadata?.encoding ?? '', 'base64').toString('utf8');

/** POSTs raw bytes over node:http (fetch would refuse to send a lying content-length). */
function post(
  url: string,
  body: string | Buffer,
  headers: Record<string, string> = {},
  method = 'POST',
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }),
      );
    });
    // The server may answer (413) and close before the body is sent: the answer is what counts.
    req.on('error', reject);
    req.end(body);
  });
}

/** Streams a chunked body far over the cap and resolves with the status the server answers mid-stream. */
function postChunkedUntilAnswered(url: string, chunks: number): Promise<number> {
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = request(url, { method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
      answered = true;
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    // Writes after the answer may fail (the server closes): only an error before it counts.
    req.on('error', (err) => (answered ? undefined : reject(err)));
    const chunk = Buffer.alloc(1024, 0x20);
    let sent = 0;
    const pump = (): void => {
      while (!answered && sent < chunks) {
        sent += 1;
        if (!req.write(chunk)) return void req.once('drain', pump);
      }
      if (!answered) req.end();
    };
    pump();
  });
}

describe('payload encryption on the real dev server', () => {
  const codec = new EncryptionCodec(parseEncryptionKeys(generateEncryptionKey('it-key')));
  const dataConverter: DataConverter = { payloadCodecs: [codec] };
  const orderId = uniqueId('encrypted');
  let result: OrderStatus;
  let rawJson: string;
  let payloads: { path: string; payload: JSONPayload }[];
  let email: string;
  let server: CodecServer;

  beforeAll(async () => {
    const client = await IntegrationsClient.connect({ address: testEnv.temporalAddress, dataConverter });
    try {
      result = await withWorkers(
        async () => {
          await client.startOrder({ orderId, customerId: 'cus_0042', amount: 4217, currency: 'EUR' });
          return client.orderResult(orderId);
        },
        { dataConverter },
      );
    } finally {
      await client.close();
    }
    // Read back as the server stores it, by a client that has no codec.
    const connection = await Connection.connect({ address: testEnv.temporalAddress });
    try {
      const plain = new Client({ connection });
      rawJson = historyToJSON(await plain.workflow.getHandle(orderWorkflowId(orderId)).fetchHistory());
    } finally {
      await connection.close();
    }
    payloads = payloadsOf(JSON.parse(rawJson));
    // The customer's address (read from the CRM by an activity) as the workers saw it.
    const decoded = await codec.decode(
      payloads.map(({ payload }) => ({
        metadata: Object.fromEntries(
          Object.entries(payload.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')]),
        ),
        data: Buffer.from(payload.data ?? '', 'base64'),
      })),
    );
    const plaintext = decoded.map((p) => Buffer.from(p.data ?? new Uint8Array()).toString('utf8')).join('\n');
    email = /[\w.-]+\.cus_0042@example\.com/.exec(plaintext)?.[0] ?? '';
    server = await startCodecServer({ codec, corsOrigins: [uiOrigin, 'http://localhost:8233'], maxBodyBytes });
  });

  afterAll(async () => {
    await server?.close();
  });

  it('completes an order whose workers and client share the encryption codec', () => {
    expect(result).toMatchObject({ stage: 'completed', paymentId: expect.stringMatching(/^pay_/) as string });
  });

  it('stores every payload of the history, search attributes and patch markers aside, as binary/encrypted', () => {
    // The server indexes search attributes; a patch marker holds only the patch's name from the code.
    const stored = payloads.filter(({ path }) => !/searchAttributes|patch-data/i.test(path));
    expect(stored.length).toBeGreaterThan(10);
    const notEncrypted = stored.filter(({ payload }) => encodingOf(payload) !== 'binary/encrypted');
    expect(notEncrypted.map(({ path, payload }) => `${path}: ${encodingOf(payload)}`)).toEqual([]);
  });

  it('keeps the customer email address, which the workflow did handle, out of the stored history', () => {
    expect(email).toMatch(/@example\.com$/);
    expect(rawJson).not.toContain(email);
    const storedBytes = payloads.map(({ payload }) => Buffer.from(payload.data ?? '', 'base64').toString('latin1'));
    expect(storedBytes.filter((s) => s.includes(email) || s.includes('4217'))).toEqual([]);
  });

  it('decodes the stored payloads over HTTP for the UI, answering its origin with CORS', async () => {
    const input = payloads.filter(({ path }) => !/searchAttributes/i.test(path)).map(({ payload }) => payload);
    const res = await post(`${server.url}/decode`, JSON.stringify({ payloads: input }), {
      'content-type': 'application/json',
      origin: uiOrigin,
      'x-namespace': 'default',
    });
    expect(res.status).toBe(200);
    expect(res.headers['access-control-allow-origin']).toBe(uiOrigin);
    const out = (JSON.parse(res.body) as { payloads: JSONPayload[] }).payloads;
    expect(out).toHaveLength(input.length);
    expect(out.map(encodingOf)).not.toContain('binary/encrypted');
    const values = out
      .filter((p) => encodingOf(p) === 'json/plain')
      .map((p) => Buffer.from(p.data ?? '', 'base64').toString('utf8'));
    // The workflow input, decoded to the JSON the UI shows.
    expect(values.map((v) => JSON.parse(v) as unknown)).toContainEqual(
      expect.objectContaining({ orderId, customerId: 'cus_0042', amount: 4217, currency: 'EUR' }),
    );
    expect(values.join('\n')).toContain(email);
  });

  it('encodes over HTTP what it then decodes, for inputs typed into the UI', async () => {
    const payload = defaultPayloadConverter.toPayload({ action: 'retry' });
    const asJson = {
      metadata: { encoding: Buffer.from(payload.metadata!.encoding!).toString('base64') },
      data: Buffer.from(payload.data!).toString('base64'),
    };
    const headers = { 'content-type': 'application/json' };
    const encoded = await post(`${server.url}/default/encode`, JSON.stringify({ payloads: [asJson] }), headers);
    expect(encodingOf((JSON.parse(encoded.body) as { payloads: JSONPayload[] }).payloads[0]!)).toBe('binary/encrypted');
    const decoded = await post(`${server.url}/default/decode`, encoded.body, headers);
    expect(JSON.parse(decoded.body)).toEqual({ payloads: [asJson] });
  });

  it('answers an empty list to a body without payloads, which is how the CLI sends none (proto3 JSON)', async () => {
    const res = await post(`${server.url}/decode`, '{}', { 'content-type': 'application/json' });
    expect([res.status, JSON.parse(res.body)]).toEqual([200, { payloads: [] }]);
  });

  it('answers the CORS preflight of the UI origin, allowing POST with what the UI sends (x-namespace, authorization)', async () => {
    const res = await post(
      `${server.url}/decode`,
      '',
      {
        origin: 'http://localhost:8233',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization,content-type,x-namespace',
      },
      'OPTIONS',
    );
    expect(res.status).toBe(204);
    expect(res.headers).toMatchObject({
      'access-control-allow-origin': 'http://localhost:8233',
      'access-control-allow-methods': 'POST, OPTIONS',
      'access-control-allow-headers': 'authorization, content-type, x-namespace',
    });
  });

  it('grants no CORS to another origin, neither on preflight nor on a decode', async () => {
    const evil = 'http://evil.example';
    const preflight = await post(
      `${server.url}/decode`,
      '',
      {
        origin: evil,
        'access-control-request-method': 'POST',
      },
      'OPTIONS',
    );
    const decode = await post(`${server.url}/decode`, JSON.stringify({ payloads: [payloads[0]!.payload] }), {
      'content-type': 'application/json',
      origin: evil,
    });
    expect([preflight.status, preflight.headers['access-control-allow-origin']]).toEqual([403, undefined]);
    expect([decode.status, decode.headers['access-control-allow-origin'], decode.body]).toEqual([
      403,
      undefined,
      JSON.stringify({ error: 'origin_not_allowed', message: 'this origin may not call the codec server' }),
    ]);
  });

  it('answers 413 to a chunked body without content-length once it passes the cap', async () => {
    expect(await postChunkedUntilAnswered(`${server.url}/decode`, (maxBodyBytes / 1024) * 8)).toBe(413);
  });

  it('answers 413 to a body over its cap', async () => {
    const big = JSON.stringify({ payloads: [{ metadata: {}, data: 'A'.repeat(maxBodyBytes) }] });
    const res = await post(`${server.url}/decode`, big, { 'content-type': 'application/json' });
    expect([res.status, JSON.parse(res.body)]).toEqual([
      413,
      { error: 'payload_too_large', message: `request body over ${maxBodyBytes} bytes` },
    ]);
  });
});
