import { createHash } from 'node:crypto';
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import type { LookupFunction } from 'node:net';
import { Pool, type Dispatcher } from 'undici';
import type { Integration } from '../../kit/define';
import type { Profile } from '../../kit/profiles';
import type { Outcome } from '../classify';
import type { SecretSource } from '../secrets';
import { UrlPolicyError, isForbiddenAddress } from '../url-policy';
import type { ProviderRequest } from './request';
import { durationMs } from '../../kit/duration';

/** Transport errors that prove nothing reached the provider. */
const notSentCodes = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
]);

const DEFAULT_MAX_RESPONSE_BYTES = 1024 * 1024;

/**
 * HTTP to the providers: one undici Pool per integration (per origin and client certificate, so a rotated
 * mTLS certificate gets a new pool), connect/header/body timeouts from the profile, a body cap, and a
 * DNS lookup that refuses link-local and metadata addresses. One attempt per `send`; no retries here.
 */
export class Transport {
  private readonly pools = new Map<string, { key: string; pool: Dispatcher }>();

  constructor(
    private readonly secrets: SecretSource,
    /** Replaces the per-integration pool, for unit tests with undici's MockAgent. */
    private readonly override?: (integration: Integration) => Dispatcher,
  ) {}

  /** One attempt: the provider's answer, or what went wrong on the way (never thrown, except cancellation). */
  async send(
    integration: Integration,
    request: ProviderRequest,
    profile: Profile,
    signal?: AbortSignal,
  ): Promise<Outcome> {
    try {
      const res = await this.dispatcher(integration, request.origin).request({
        origin: request.origin,
        method: request.method,
        path: request.path,
        headers: request.headers,
        body: request.body,
        headersTimeout: durationMs(profile.headersTimeout),
        bodyTimeout: durationMs(profile.bodyTimeout),
        signal,
      });
      const maxBytes = integration.pool?.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
      const declared = Number(res.headers['content-length']);
      const body = declared > maxBytes ? (res.body.destroy(), undefined) : await readCapped(res.body, maxBytes);
      return {
        kind: 'response',
        status: res.statusCode,
        headers: res.headers,
        body: body ?? '',
        oversized: body === undefined,
      };
    } catch (err) {
      if (signal?.aborted) throw err; // cancelled by Temporal: let the SDK report it
      return transportOutcome(err);
    }
  }

  /** The integration's pool, created on first use (and again when its client certificate changed). */
  dispatcher(integration: Integration, origin: string): Dispatcher {
    if (this.override) return this.override(integration);
    const tls = integration.mtls
      ? {
          cert: this.secrets.value(integration.mtls.cert),
          key: this.secrets.value(integration.mtls.key),
          ca: integration.mtls.ca ? this.secrets.value(integration.mtls.ca) : undefined,
        }
      : undefined;
    const fingerprint = tls
      ? createHash('sha256')
          .update(tls.cert + tls.key + (tls.ca ?? ''))
          .digest('hex')
      : '';
    const key = `${origin}|${fingerprint}`;
    const existing = this.pools.get(integration.name);
    if (existing?.key === key) return existing.pool;
    if (existing) void existing.pool.close(); // finishes in-flight requests, then releases the old certificate
    const connectTimeout = Math.min(
      ...Object.keys(integration.endpoints).map((e) => durationMs(integration.profileOf(e).connectTimeout)),
    );
    const pool = new Pool(origin, {
      connections: integration.pool?.connections ?? 10,
      keepAliveTimeout: durationMs(integration.pool?.keepAlive ?? '4 seconds'),
      clientTtl: durationMs(integration.pool?.connectionTtl ?? '1 minute'),
      connect: { timeout: connectTimeout, lookup: ssrfSafeLookup, ...(tls ?? {}) },
    });
    this.pools.set(integration.name, { key, pool });
    return pool;
  }

  async close(): Promise<void> {
    await Promise.all([...this.pools.values()].map(({ pool }) => pool.close()));
    this.pools.clear();
  }
}

/** A transport failure as an outcome; a refused address (URL policy) is thrown: it is our configuration. */
function transportOutcome(err: unknown): Outcome {
  if (err instanceof UrlPolicyError) throw err;
  const e = err as NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException };
  if (e.cause instanceof UrlPolicyError) throw e.cause;
  const code = e.code ?? e.cause?.code ?? 'UNKNOWN';
  return { kind: 'transport', code, message: e.message, sent: !notSentCodes.has(code) };
}

/**
 * Reads a body as text, giving up (and destroying the stream, so the socket is not kept busy) as
 * soon as it passes `maxBytes`, however the provider framed it (chunked bodies declare no length).
 */
async function readCapped(body: Dispatcher.ResponseData['body'], maxBytes: number): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) {
      body.destroy();
      return undefined;
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** DNS lookup that refuses link-local and metadata addresses, so a hostile DNS answer cannot reach them. */
const ssrfSafeLookup: LookupFunction = (hostname, options, callback) => {
  dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
    if (err) return callback(err, '', 0);
    const bad = addresses.find((a) => isForbiddenAddress(a.address));
    if (bad) {
      return callback(
        new UrlPolicyError(`${hostname} resolves to ${bad.address}, a link-local or metadata address`),
        '',
        0,
      );
    }
    if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
    const first = addresses[0]!;
    callback(null, first.address, first.family);
  });
};
