import { createRemoteJWKSet, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { z } from 'zod';
import { EdgeRejection, isLoopbackHost } from '../http/edge-server';

/**
 * Who may use the codec server: a bearer JWT (the Temporal Web UI sends the signed-in user's access token
 * when its codec setting "pass access token" is on; the CLI sends one with `--codec-auth 'Bearer <jwt>'`),
 * verified against the identity provider's JWKS with `jose`, then its roles mapped to what they may do.
 *
 * `jose` because it is the maintained, dependency-free JOSE implementation for Node (and browsers): it
 * fetches and caches the JWKS (re-fetching on an unknown `kid`, with a cooldown), checks signature,
 * algorithm, `iss`, `aud`, `exp` and `nbf`; none of that is code this project should own.
 */
export type CodecOperation = 'decode' | 'encode';

/** Per role, the namespaces (or `*`) it may decode and encode. */
export type CodecRoles = ReadonlyMap<string, Readonly<Record<CodecOperation, readonly string[]>>>;

export interface CodecAuthOptions {
  /** The identity provider's JWKS (https, or http on loopback for tests). */
  jwksUrl: string;
  /** Required `iss`. */
  issuer: string;
  /** Required `aud`. */
  audience: string;
  /** Claim with the caller's roles (string or list), a dotted path allowed (`realm_access.roles`). @default roles */
  rolesClaim?: string;
  roles: CodecRoles;
  /** Accepted clock skew for `exp`/`nbf`. @default 30 seconds */
  clockToleranceSeconds?: number;
}

export interface Caller {
  /** The token's `sub`, for the audit log. */
  subject: string;
  roles: string[];
}

const namespaceList = z.array(z.string().regex(/^(\*|[\w.-]{1,255})$/, 'a namespace name or "*"'));
const rolesSchema = z.record(
  z.string().min(1),
  z.strictObject({ decode: namespaceList.optional(), encode: namespaceList.optional() }),
);

/** Parses `CODEC_AUTH_ROLES` (JSON); errors name the variable and the field, never a token. */
export function parseCodecRoles(json: string, source = 'CODEC_AUTH_ROLES'): CodecRoles {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    throw new Error(
      `${source} is not JSON; expected e.g. {"operator":{"decode":["default"]},"admin":{"decode":["*"],"encode":["*"]}}`,
    );
  }
  const parsed = rolesSchema.safeParse(value);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new Error(`${source}: ${issues}`);
  }
  return new Map(
    Object.entries(parsed.data).map(([role, p]) => [role, { decode: p.decode ?? [], encode: p.encode ?? [] }]),
  );
}

/** The auth settings from the configuration, or `undefined` when none is set (laptop mode). */
export function codecAuthFromConfig(config: {
  CODEC_AUTH_JWKS_URL?: string;
  CODEC_AUTH_ISSUER?: string;
  CODEC_AUTH_AUDIENCE?: string;
  CODEC_AUTH_ROLES_CLAIM: string;
  CODEC_AUTH_ROLES?: string;
}): CodecAuthOptions | undefined {
  const { CODEC_AUTH_JWKS_URL: jwksUrl, CODEC_AUTH_ISSUER: issuer, CODEC_AUTH_AUDIENCE: audience } = config;
  const set = [jwksUrl, issuer, audience, config.CODEC_AUTH_ROLES].filter((v) => v !== undefined).length;
  if (set === 0) return undefined;
  const missing = (
    [
      ['CODEC_AUTH_JWKS_URL', jwksUrl],
      ['CODEC_AUTH_ISSUER', issuer],
      ['CODEC_AUTH_AUDIENCE', audience],
      ['CODEC_AUTH_ROLES', config.CODEC_AUTH_ROLES],
    ] as const
  )
    .filter(([, v]) => v === undefined)
    .map(([name]) => name);
  if (missing.length > 0 || !jwksUrl || !issuer || !audience || !config.CODEC_AUTH_ROLES) {
    throw new Error(`codec auth is partly configured: set ${missing.join(', ')} too (see .env.example)`);
  }
  const url = new URL(jwksUrl);
  if (url.protocol !== 'https:' && !isLoopbackHost(url.hostname)) {
    throw new Error('CODEC_AUTH_JWKS_URL must be https (keys fetched over plain HTTP could be swapped)');
  }
  return {
    jwksUrl,
    issuer,
    audience,
    rolesClaim: config.CODEC_AUTH_ROLES_CLAIM,
    roles: parseCodecRoles(config.CODEC_AUTH_ROLES),
  };
}

function claimAt(payload: JWTPayload, path: string): unknown {
  let value: unknown = payload;
  for (const key of path.split('.')) {
    if (typeof value !== 'object' || value === null || !Object.hasOwn(value, key)) return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

const challenge = (error?: string) => ({
  'www-authenticate': error ? `Bearer realm="codec", error="${error}"` : 'Bearer realm="codec"',
});

export class CodecAuthenticator {
  private readonly keys: JWTVerifyGetKey;
  private readonly rolesClaim: string;

  constructor(private readonly options: CodecAuthOptions) {
    this.keys = createRemoteJWKSet(new URL(options.jwksUrl), {
      timeoutDuration: 5_000,
      cooldownDuration: 30_000,
      cacheMaxAge: 10 * 60_000,
    });
    this.rolesClaim = options.rolesClaim ?? 'roles';
  }

  /** The caller of a request, from its `Authorization` header; 401 (with a challenge) otherwise. */
  async authenticate(authorization: string | undefined): Promise<Caller> {
    if (authorization === undefined || authorization.trim() === '') {
      throw new EdgeRejection(
        401,
        'unauthenticated',
        'send Authorization: Bearer <access token> (UI: codec setting "pass access token"; CLI: --codec-auth)',
        challenge(),
      );
    }
    const match = /^Bearer +([A-Za-z0-9._~+/-]+=*) *$/i.exec(authorization);
    if (!match?.[1]) {
      throw new EdgeRejection(
        401,
        'invalid_token',
        'expected Authorization: Bearer <JWT>',
        challenge('invalid_request'),
      );
    }
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(match[1], this.keys, {
        issuer: this.options.issuer,
        audience: this.options.audience,
        clockTolerance: this.options.clockToleranceSeconds ?? 30,
        requiredClaims: ['exp'],
      }));
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if (code === 'ERR_JWT_EXPIRED') {
        throw new EdgeRejection(
          401,
          'token_expired',
          'the access token has expired: sign in again',
          challenge('invalid_token'),
        );
      }
      if (
        typeof code === 'string' &&
        code.startsWith('ERR_J') &&
        code !== 'ERR_JWKS_TIMEOUT' &&
        code !== 'ERR_JWKS_INVALID'
      ) {
        // Which check failed (signature, issuer, audience, key) stays in the log: no oracle for forgers.
        throw new AuthFailure(
          new EdgeRejection(
            401,
            'invalid_token',
            'the access token is not valid for this codec server',
            challenge('invalid_token'),
          ),
          code,
        );
      }
      // The identity provider's keys could not be fetched: not the caller's fault.
      throw new AuthFailure(
        new EdgeRejection(503, 'auth_unavailable', 'tokens cannot be checked right now; try again', {
          'retry-after': '5',
        }),
        typeof code === 'string' ? code : (err as Error).message,
      );
    }
    const claim = claimAt(payload, this.rolesClaim);
    const roles = (Array.isArray(claim) ? claim : [claim]).filter((r): r is string => typeof r === 'string');
    return { subject: typeof payload.sub === 'string' ? payload.sub : '(no sub)', roles };
  }

  /** 403 unless one of the caller's roles may do `operation` on `namespace`. */
  authorize(caller: Caller, operation: CodecOperation, namespace: string): void {
    const allowed = caller.roles.some((role) => {
      const grants = this.options.roles.get(role)?.[operation] ?? [];
      return grants.includes('*') || grants.includes(namespace);
    });
    if (!allowed) {
      throw new EdgeRejection(
        403,
        'forbidden',
        operation === 'encode'
          ? `your roles may not encode for namespace ${namespace}`
          : `your roles may not decode payloads of namespace ${namespace}`,
      );
    }
  }
}

/** A refusal whose internal cause (a jose error code) is logged, never answered. */
export class AuthFailure extends EdgeRejection {
  constructor(
    rejection: EdgeRejection,
    readonly internal: string,
  ) {
    super(rejection.status, rejection.reason, rejection.detail, rejection.headers);
  }
}
