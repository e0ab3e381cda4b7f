import { z } from 'zod';
import { get, post, type EndpointSpec } from '../../src/integrations/kit/define';
import { FailureType } from '../../src/integrations/kit/failures';
import { durationMs } from '../../src/integrations/kit/duration';
import { background, resolveProfile, userFlow, type Profile } from '../../src/integrations/kit/profiles';
import {
  backoffDelayMs,
  classify,
  defaultErrorPayload,
  parseRetryAfter,
  type ClassifyContext,
  type Outcome,
  type Verdict,
} from '../../src/integrations/runtime/classify';

// A whole second, so HTTP-dates (second resolution) round-trip exactly.
const NOW = Date.parse('2030-01-01T00:00:00Z');

const Thing = z.object({ id: z.string() });
const read = get('things', { response: Thing });
const write = post('things', { body: z.object({ name: z.string() }), response: Thing });
const lookupWrite = post('things', {
  body: z.object({ name: z.string() }),
  response: Thing,
  idempotency: 'lookup',
  lookup: { endpoint: 'find', input: (key) => ({ query: { key } }) },
});

function ctx(spec: EndpointSpec, overrides: Partial<ClassifyContext> = {}): ClassifyContext {
  return {
    spec,
    profile: resolveProfile('userFlow'),
    attempt: 1,
    credentialsRefreshable: false,
    now: () => NOW,
    random: () => 0.5,
    ...overrides,
  };
}

function response(
  status: number,
  body = '',
  headers: Record<string, string | string[] | undefined> = { 'content-type': 'application/json' },
): Outcome {
  return { kind: 'response', status, headers, body };
}

const json = (status: number, value: unknown, headers: Record<string, string> = {}) =>
  response(status, JSON.stringify(value), { 'content-type': 'application/json', ...headers });

const oversized = (status: number, headers: Record<string, string> = {}): Outcome => ({
  kind: 'response',
  status,
  headers: { 'content-type': 'application/json', ...headers },
  body: '',
  oversized: true,
});

const transport = (code: string, sent: boolean): Outcome => ({ kind: 'transport', code, message: code, sent });

type Failure = Extract<Verdict, { ok: false }>;

function failed(verdict: Verdict): Failure {
  if (verdict.ok) throw new Error(`expected a failure, got ok with ${JSON.stringify(verdict.value)}`);
  return verdict;
}

function succeeded(verdict: Verdict): unknown {
  if (!verdict.ok) throw new Error(`expected success, got ${verdict.type}: ${verdict.message}`);
  return verdict.value;
}

describe('classify: transport outcomes', () => {
  it('classifies a 2xx body over the cap as ResponseTooLarge, non-retryable', () => {
    const v = failed(classify(oversized(200), ctx(read)));
    expect(v).toMatchObject({ type: FailureType.ResponseTooLarge, retryable: false, nextRetryDelayMs: undefined });
  });

  it('judges an oversized error response by its status, not its size', () => {
    expect(failed(classify(oversized(502), ctx(read))).type).toBe(FailureType.ServerError);
    expect(failed(classify(oversized(504), ctx(write))).type).toBe(FailureType.OutcomeUnknown);
    expect(failed(classify(oversized(429, { 'retry-after': '1' }), ctx(read)))).toMatchObject({
      type: FailureType.RateLimited,
      nextRetryDelayMs: 1_000,
    });
  });

  it.each([
    ['a read', read],
    ['a keyed write', write],
    ['a lookup write', lookupWrite],
  ])('classifies a request that was never sent as a retryable NetworkError on %s', (_name, spec) => {
    const v = failed(classify(transport('ECONNREFUSED', false), ctx(spec)));
    expect(v).toMatchObject({ type: FailureType.NetworkError, retryable: true });
    expect(v.message).toContain('ECONNREFUSED');
  });

  it.each([
    ['a keyed write', write],
    ['a lookup write', lookupWrite],
  ])('classifies a write that was sent and got no answer as OutcomeUnknown on %s', (_name, spec) => {
    const v = failed(classify(transport('UND_ERR_HEADERS_TIMEOUT', true), ctx(spec)));
    expect(v).toMatchObject({ type: FailureType.OutcomeUnknown, retryable: true });
    expect(v.message).toContain('UND_ERR_HEADERS_TIMEOUT');
  });

  it.each(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ECONNRESET', 'UND_ERR_SOCKET'])(
    'classifies a read that was sent and lost its answer (%s) as a retryable Timeout',
    (code) => {
      const v = failed(classify(transport(code, true), ctx(read)));
      expect(v).toMatchObject({ type: FailureType.Timeout, retryable: true });
    },
  );

  it('leaves the delay to the retry policy when the profile has no jitter', () => {
    const v = failed(classify(transport('ECONNREFUSED', false), ctx(read, { profile: userFlow })));
    expect(v.nextRetryDelayMs).toBeUndefined();
  });

  it('sets a jittered backoff delay from the attempt number when the profile asks for jitter', () => {
    const random = jest.fn(() => 0);
    const v = failed(classify(transport('ECONNRESET', true), ctx(read, { profile: background, attempt: 3, random })));
    // background: 1 s initial, coefficient 2: attempt 3 -> base 4 s; random 0 -> the fixed half.
    expect(v.nextRetryDelayMs).toBe(2_000);
    expect(random).toHaveBeenCalledTimes(1);
  });
});

describe('classify: redirects', () => {
  it.each([300, 301, 302, 303, 304, 307, 308])(
    'refuses to follow a %d: UnexpectedRedirect, non-retryable',
    (status) => {
      const v = failed(classify(response(status, '', { location: 'https://elsewhere.example/x' }), ctx(read)));
      expect(v).toMatchObject({ type: FailureType.UnexpectedRedirect, retryable: false });
      expect(v.message).toContain('https://elsewhere.example/x');
    },
  );

  it('says "?" when a redirect has no Location', () => {
    const v = failed(classify(response(302, '', {}), ctx(read)));
    expect(v.message).toContain('to ?');
  });
});

describe('classify: rate limiting', () => {
  it('waits as long as a 429 Retry-After in seconds asks', () => {
    const v = failed(classify(json(429, { error: 'slow down' }, { 'retry-after': '1' }), ctx(read)));
    expect(v).toMatchObject({ type: FailureType.RateLimited, retryable: true, nextRetryDelayMs: 1_000 });
  });

  it("caps a 429 Retry-After at the profile's maxRetryAfter", () => {
    const v = failed(classify(json(429, {}, { 'retry-after': '3600' }), ctx(read)));
    expect(v.nextRetryDelayMs).toBe(durationMs(userFlow.maxRetryAfter));
    expect(v.message).toContain('3600000 ms');
  });

  it('honours a 429 Retry-After given as an HTTP-date', () => {
    const date = new Date(NOW + 1_500).toUTCString(); // second resolution: NOW + 1 s
    const v = failed(classify(json(429, {}, { 'retry-after': date }), ctx(read)));
    expect(v.nextRetryDelayMs).toBe(1_000);
  });

  it('turns a Retry-After of 0 into the smallest positive delay, never 0', () => {
    const v = failed(classify(json(429, {}, { 'retry-after': '0' }), ctx(read)));
    expect(v.nextRetryDelayMs).toBe(1);
  });

  it('reads the first Retry-After when the header is repeated', () => {
    const repeated = response(429, '{}', { 'content-type': 'application/json', 'retry-after': ['1', '9'] });
    expect(failed(classify(repeated, ctx(read))).nextRetryDelayMs).toBe(1_000);
  });

  it('falls back to the profile backoff when a 429 has no Retry-After', () => {
    const plain = failed(classify(json(429, {}), ctx(read)));
    expect(plain).toMatchObject({ type: FailureType.RateLimited, retryable: true, nextRetryDelayMs: undefined });
    const jittered = failed(classify(json(429, {}), ctx(read, { profile: background, random: () => 1 })));
    expect(jittered.nextRetryDelayMs).toBe(1_000);
  });

  it('adds up to 10% jitter to a Retry-After when the profile asks for jitter', () => {
    const low = failed(
      classify(json(429, {}, { 'retry-after': '10' }), ctx(read, { profile: background, random: () => 0 })),
    );
    const high = failed(
      classify(json(429, {}, { 'retry-after': '10' }), ctx(read, { profile: background, random: () => 0.999 })),
    );
    expect(low.nextRetryDelayMs).toBe(10_000);
    expect(high.nextRetryDelayMs).toBe(10_999);
  });

  it('classifies a 503 with Retry-After as RateLimited, not ServerError (rule order)', () => {
    const v = failed(
      classify(
        json(503, {}, { 'retry-after': '2' }),
        ctx(read, { profile: resolveProfile('userFlow', { maxRetryAfter: 60_000 }) }),
      ),
    );
    expect(v).toMatchObject({ type: FailureType.RateLimited, retryable: true, nextRetryDelayMs: 2_000 });
  });

  it('classifies a 503 with Retry-After on a write as RateLimited too', () => {
    const v = failed(classify(json(503, {}, { 'retry-after': '1' }), ctx(write)));
    expect(v.type).toBe(FailureType.RateLimited);
  });

  it('honours a 503 Retry-After given as an HTTP-date', () => {
    const date = new Date(NOW + 2_000).toUTCString();
    const profile = resolveProfile('userFlow', { maxRetryAfter: 60_000 });
    const v = failed(classify(json(503, {}, { 'retry-after': date }), ctx(read, { profile })));
    expect(v).toMatchObject({ type: FailureType.RateLimited, nextRetryDelayMs: 2_000 });
  });

  it('classifies a 503 without Retry-After as ServerError', () => {
    const v = failed(classify(json(503, {}), ctx(read)));
    expect(v).toMatchObject({ type: FailureType.ServerError, retryable: true });
  });
});

describe('classify: gateway timeouts and server errors', () => {
  it('classifies a 504 on a keyed write as OutcomeUnknown', () => {
    const v = failed(classify(json(504, {}), ctx(write)));
    expect(v).toMatchObject({ type: FailureType.OutcomeUnknown, retryable: true });
  });

  it('classifies a 504 on a lookup write as OutcomeUnknown', () => {
    expect(failed(classify(json(504, {}), ctx(lookupWrite))).type).toBe(FailureType.OutcomeUnknown);
  });

  it('classifies a 504 on a read as ServerError', () => {
    const v = failed(classify(json(504, {}), ctx(read)));
    expect(v).toMatchObject({ type: FailureType.ServerError, retryable: true });
  });

  it.each([408, 500, 502, 503])('classifies %d on a read as a retryable ServerError', (status) => {
    const v = failed(classify(json(status, { error: 'x' }), ctx(read)));
    expect(v).toMatchObject({ type: FailureType.ServerError, retryable: true });
    expect(v.message).toContain(String(status));
  });

  it.each([408, 500, 503])('classifies %d on a write as a retryable ServerError', (status) => {
    expect(failed(classify(json(status, {}), ctx(write))).type).toBe(FailureType.ServerError);
  });

  it('classifies a 502 on a write as OutcomeUnknown, like a 504', () => {
    expect(failed(classify(json(502, {}), ctx(write))).type).toBe(FailureType.OutcomeUnknown);
  });

  it('judges a 5xx by its status, not its HTML body (status rules come before the content-type rule)', () => {
    const v = failed(classify(response(502, '<html>bad gateway</html>', { 'content-type': 'text/html' }), ctx(read)));
    expect(v.type).toBe(FailureType.ServerError);
  });

  it('gives a ServerError a jittered backoff delay under the background profile', () => {
    const v = failed(classify(json(500, {}), ctx(read, { profile: background, attempt: 2, random: () => 0.5 })));
    // base 2 s: 1 s fixed + 0.5 * 1 s random.
    expect(v.nextRetryDelayMs).toBe(1_500);
  });
});

describe('classify: credentials', () => {
  it('classifies a 401 that a new token can cure as CredentialsExpired, retryable', () => {
    const v = failed(classify(json(401, {}), ctx(read, { credentialsRefreshable: true })));
    expect(v).toMatchObject({ type: FailureType.CredentialsExpired, retryable: true });
  });

  it('classifies a 401 that cannot be cured as Unauthorized, non-retryable', () => {
    const v = failed(classify(json(401, {}), ctx(read, { credentialsRefreshable: false })));
    expect(v).toMatchObject({ type: FailureType.Unauthorized, retryable: false });
  });

  it('classifies a 401 on a write the same way as on a read', () => {
    expect(failed(classify(json(401, {}), ctx(write, { credentialsRefreshable: true }))).type).toBe(
      FailureType.CredentialsExpired,
    );
  });
});

describe('classify: 404 and other client errors', () => {
  it("returns null for a 404 on an endpoint declared notFound: 'null'", () => {
    const spec = get('things', { response: Thing.nullable(), notFound: 'null' });
    expect(succeeded(classify(json(404, { error: 'not_found' }), ctx(spec)))).toBeNull();
  });

  it('classifies a 404 on an endpoint that does not map it as NotFound, non-retryable', () => {
    const v = failed(classify(json(404, { error: 'not_found' }), ctx(read)));
    expect(v).toMatchObject({ type: FailureType.NotFound, retryable: false });
  });

  it.each([400, 403, 405, 409, 410, 413, 422, 451])('classifies %d as RequestRejected, non-retryable', (status) => {
    const v = failed(classify(json(status, { error: 'x' }), ctx(write)));
    expect(v).toMatchObject({ type: FailureType.RequestRejected, retryable: false });
    expect(v.message).toContain(String(status));
  });

  it('does not honour Retry-After on a non-429 4xx', () => {
    const v = failed(classify(json(400, {}, { 'retry-after': '5' }), ctx(read)));
    expect(v).toMatchObject({ type: FailureType.RequestRejected, nextRetryDelayMs: undefined });
  });
});

describe('classify: unexpected statuses', () => {
  it('rejects a 1xx as InvalidResponse', () => {
    const v = failed(classify(json(101, {}), ctx(read)));
    expect(v).toMatchObject({ type: FailureType.InvalidResponse, retryable: false });
    expect(v.message).toContain('101');
  });

  it('rejects a 2xx outside the endpoint successStatus list', () => {
    const spec = post('things', { body: z.object({}), response: Thing, successStatus: [201] });
    const v = failed(classify(json(200, { id: 'a' }), ctx(spec)));
    expect(v).toMatchObject({ type: FailureType.InvalidResponse, message: 'unexpected status 200' });
  });

  it('accepts a status in the successStatus list', () => {
    const spec = post('things', { body: z.object({}), response: Thing, successStatus: [201] });
    expect(succeeded(classify(json(201, { id: 'a' }), ctx(spec)))).toEqual({ id: 'a' });
  });

  it('accepts any 2xx when the endpoint declares no successStatus', () => {
    for (const status of [200, 201, 202, 203, 206, 299]) {
      expect(succeeded(classify(json(status, { id: 'a' }), ctx(read)))).toEqual({ id: 'a' });
    }
  });
});

describe('classify: content type of a 2xx', () => {
  it.each([
    'application/json',
    'application/json; charset=utf-8',
    'Application/JSON',
    'application/problem+json',
    'application/vnd.api+json',
    'application/hal+json; charset=utf-8',
  ])('accepts %s', (contentType) => {
    const v = classify(response(200, '{"id":"a"}', { 'content-type': contentType }), ctx(read));
    expect(succeeded(v)).toEqual({ id: 'a' });
  });

  it.each(['text/html', 'text/html; charset=utf-8', 'text/plain', 'application/xml', 'application/jsonp', 'text/json'])(
    'rejects %s as InvalidResponse even when the body is valid JSON',
    (contentType) => {
      const v = failed(classify(response(200, '{"id":"a"}', { 'content-type': contentType }), ctx(read)));
      expect(v).toMatchObject({ type: FailureType.InvalidResponse, retryable: false });
      expect(v.message).toContain(contentType);
    },
  );

  it("rejects a 2xx proxy HTML page as InvalidResponse ('expected JSON')", () => {
    const html = '<html><body><h1>Oops</h1></body></html>';
    const v = failed(classify(response(200, html, { 'content-type': 'text/html' }), ctx(read)));
    expect(v.message).toBe('expected JSON, got text/html');
  });

  it('rejects a 2xx body without a content type', () => {
    const v = failed(classify(response(200, '{"id":"a"}', {}), ctx(read)));
    expect(v).toMatchObject({ type: FailureType.InvalidResponse, message: 'expected JSON, got no content type' });
  });

  it('does not require a content type on an empty body', () => {
    const spec = post('things', { body: z.object({}), response: z.undefined() });
    expect(succeeded(classify(response(204, '', {}), ctx(spec)))).toBeUndefined();
    expect(succeeded(classify(response(202, '', { 'content-type': 'text/html' }), ctx(spec)))).toBeUndefined();
  });
});

describe('classify: the body of a 2xx', () => {
  it('returns the parsed body, as the response schema outputs it (unknown keys stripped)', () => {
    const v = classify(json(200, { id: 'a', extra: 1 }), ctx(read));
    expect(succeeded(v)).toEqual({ id: 'a' });
  });

  it('applies the schema transforms to the value it returns', () => {
    const spec = get('n', { response: z.object({ n: z.string().transform(Number) }) });
    expect(succeeded(classify(json(200, { n: '42' }), ctx(spec)))).toEqual({ n: 42 });
  });

  it('rejects a body that is not valid JSON as InvalidResponse', () => {
    const v = failed(classify(response(200, '{"id":'), ctx(read)));
    expect(v).toMatchObject({
      type: FailureType.InvalidResponse,
      retryable: false,
      message: 'response body is not valid JSON',
    });
  });

  it('rejects a body that does not match the schema, naming the failing paths', () => {
    const v = failed(classify(json(200, { unexpected: true }), ctx(read)));
    expect(v).toMatchObject({ type: FailureType.InvalidResponse, retryable: false });
    expect(v.message).toMatch(/^response does not match its schema: id: /);
  });

  it('names the root when the whole body has the wrong shape', () => {
    const v = failed(classify(json(200, [1, 2]), ctx(read)));
    expect(v.message).toContain('(root)');
  });

  it('rejects an empty 2xx body when the schema needs one', () => {
    const v = failed(classify(response(200, ''), ctx(read)));
    expect(v.type).toBe(FailureType.InvalidResponse);
  });

  it('rejects a GraphQL errors array inside a 200 as InvalidResponse', () => {
    const v = failed(classify(json(200, { data: null, errors: [{ message: 'boom' }] }), ctx(read)));
    expect(v).toMatchObject({ type: FailureType.InvalidResponse, retryable: false });
    expect(v.message).toBe('error inside a 200 response: errors[0]: boom');
  });

  it('rejects an ok:false payload inside a 2xx as InvalidResponse, before the schema is checked', () => {
    const spec = get('x', { response: z.object({ ok: z.boolean(), error: z.string() }) });
    const v = failed(classify(json(201, { ok: false, error: 'channel_not_found' }), ctx(spec)));
    expect(v.message).toBe('error inside a 201 response: ok: false (channel_not_found)');
  });

  it("prefers the endpoint's error detector over the integration's", () => {
    const spec = get('x', { response: z.object({ status: z.string() }), errorPayload: () => undefined });
    const integrationDetector = jest.fn(() => 'integration says no');
    const v = classify(json(200, { status: 'fine', ok: false }), ctx(spec, { errorPayload: integrationDetector }));
    expect(succeeded(v)).toEqual({ status: 'fine' });
    expect(integrationDetector).not.toHaveBeenCalled();
  });

  it("uses the integration's error detector over the default one", () => {
    const detector = (body: unknown) =>
      (body as { status?: string }).status === 'FAILED' ? 'status FAILED' : undefined;
    const spec = get('x', { response: z.object({ status: z.string() }) });
    const v = failed(classify(json(200, { status: 'FAILED' }), ctx(spec, { errorPayload: detector })));
    expect(v.message).toBe('error inside a 200 response: status FAILED');
    // The default detector is replaced, not added to.
    expect(succeeded(classify(json(200, { status: 'OK', ok: false }), ctx(spec, { errorPayload: detector })))).toEqual({
      status: 'OK',
    });
  });
});

describe('classify: purity', () => {
  it('gives the same verdict for the same outcome and context', () => {
    const outcome = json(429, {}, { 'retry-after': '1' });
    const context = ctx(read);
    expect(classify(outcome, context)).toEqual(classify(outcome, context));
  });

  it('does not read the clock or Math.random when they are injected', () => {
    const now = jest.spyOn(Date, 'now');
    const random = jest.spyOn(Math, 'random');
    try {
      classify(json(429, {}, { 'retry-after': 'Tue, 01 Jan 2030 00:00:05 GMT' }), ctx(read, { profile: background }));
      classify(json(500, {}), ctx(read, { profile: background }));
      expect(now).not.toHaveBeenCalled();
      expect(random).not.toHaveBeenCalled();
    } finally {
      now.mockRestore();
      random.mockRestore();
    }
  });
});

describe('parseRetryAfter', () => {
  it('returns undefined when the header is absent', () => {
    expect(parseRetryAfter(undefined, NOW)).toBeUndefined();
  });

  it('reads delta-seconds as milliseconds', () => {
    expect(parseRetryAfter('120', NOW)).toBe(120_000);
    expect(parseRetryAfter('0', NOW)).toBe(0);
  });

  it('ignores surrounding whitespace', () => {
    expect(parseRetryAfter('  7 \t', NOW)).toBe(7_000);
    expect(parseRetryAfter(` ${new Date(NOW + 3_000).toUTCString()} `, NOW)).toBe(3_000);
  });

  it('reads an HTTP-date in the future as the time until it', () => {
    expect(parseRetryAfter('Tue, 01 Jan 2030 00:01:00 GMT', NOW)).toBe(60_000);
  });

  it('reads an HTTP-date in the past as 0', () => {
    expect(parseRetryAfter('Wed, 21 Oct 2015 07:28:00 GMT', NOW)).toBe(0);
  });

  it.each(['soon', '', '   ', '-5', '1.5', '+5', '5s', '0x10', '2030-01-01', '1e3'])(
    'rejects %j as malformed',
    (value) => {
      expect(parseRetryAfter(value, NOW)).toBeUndefined();
    },
  );
});

describe('backoffDelayMs', () => {
  const noJitterTop = () => 1; // random() is in [0, 1): 1 gives the top of the range exactly

  it('grows exponentially with the attempt number', () => {
    const delays = [1, 2, 3, 4].map((attempt) => backoffDelayMs(background, attempt, noJitterTop));
    expect(delays).toEqual([1_000, 2_000, 4_000, 8_000]);
  });

  it("is capped by the retry policy's maximumInterval", () => {
    expect(backoffDelayMs(userFlow, 2, noJitterTop)).toBe(600);
    expect(backoffDelayMs(userFlow, 3, noJitterTop)).toBe(1_000); // 1200 capped to 1 s
    expect(backoffDelayMs(userFlow, 50, noJitterTop)).toBe(1_000);
    expect(backoffDelayMs(background, 1_000, noJitterTop)).toBe(5 * 60_000);
  });

  it('defaults maximumInterval to 100 times the initial interval', () => {
    const profile: Profile = resolveProfile('background', { retry: { maximumInterval: undefined } });
    expect(backoffDelayMs(profile, 30, noJitterTop)).toBe(100_000);
  });

  it('uses the backoff coefficient of the policy', () => {
    const profile = resolveProfile('background', { retry: { backoffCoefficient: 3 } });
    expect(backoffDelayMs(profile, 3, noJitterTop)).toBe(9_000);
  });

  it('treats attempt 0 and below like attempt 1', () => {
    expect(backoffDelayMs(background, 0, noJitterTop)).toBe(1_000);
    expect(backoffDelayMs(background, -3, noJitterTop)).toBe(1_000);
  });

  it('keeps the jittered delay within [base/2, base]', () => {
    for (const attempt of [1, 2, 3, 6, 12]) {
      const base = Math.min(300_000, 1_000 * 2 ** (attempt - 1));
      for (const r of [0, 0.1, 0.25, 0.5, 0.75, 0.9, 0.999999]) {
        const d = backoffDelayMs(background, attempt, () => r);
        expect(d).toBeGreaterThanOrEqual(base / 2);
        expect(d).toBeLessThanOrEqual(base);
      }
    }
  });

  it('uses the injected random: 0 gives half the base, 0.5 three quarters', () => {
    const random = jest.fn(() => 0);
    expect(backoffDelayMs(background, 2, random)).toBe(1_000);
    expect(random).toHaveBeenCalledTimes(1);
    expect(backoffDelayMs(background, 2, () => 0.5)).toBe(1_500);
  });

  it('never returns less than 1 ms', () => {
    const tiny = resolveProfile('userFlow', { retry: { initialInterval: '1 ms' } });
    expect(backoffDelayMs(tiny, 1, () => 0)).toBe(1);
  });
});

describe('defaultErrorPayload', () => {
  it('finds the first GraphQL error message', () => {
    expect(defaultErrorPayload({ errors: [{ message: 'first' }, { message: 'second' }] })).toBe('errors[0]: first');
  });

  it('serialises an error entry without a string message', () => {
    expect(defaultErrorPayload({ errors: [{ code: 42 }] })).toBe('errors[0]: {"code":42}');
    expect(defaultErrorPayload({ errors: ['plain'] })).toBe('errors[0]: "plain"');
  });

  it('ignores an empty errors array', () => {
    expect(defaultErrorPayload({ data: {}, errors: [] })).toBeUndefined();
  });

  it('finds ok:false, with the error string when there is one', () => {
    expect(defaultErrorPayload({ ok: false, error: 'invalid_auth' })).toBe('ok: false (invalid_auth)');
    expect(defaultErrorPayload({ ok: false })).toBe('ok: false');
    expect(defaultErrorPayload({ ok: false, error: { code: 1 } })).toBe('ok: false');
  });

  it('reports nothing for ordinary bodies', () => {
    for (const body of [undefined, null, 0, 'text', [], { ok: true }, { errors: 'not an array' }, { id: 'a' }]) {
      expect(defaultErrorPayload(body)).toBeUndefined();
    }
  });
});
