import { z } from 'zod';
import type { Logger } from '../../../observability/logger';
import type { AuthSpec, EndpointSpec, Integration } from '../../kit/define';
import { FailureType } from '../../kit/failures';
import { resolveProfile } from '../../kit/profiles';
import { classify, tlsVerificationCodes, type Outcome } from '../classify';
import type { SecretSource } from '../secrets';
import { baseUrlOf, type UrlRules } from '../transport/request';
import type { Transport } from '../transport/transport';
import { CredentialsError } from './credentials-error';
import { checkBaseUrl } from '../url-policy';

export type OAuth2ClientCredentials = Extract<AuthSpec, { kind: 'oauth2ClientCredentials' }>;

/** The token endpoint, declared like any endpoint, so its answers go through the one classification table. */
const tokenEndpoint: EndpointSpec = {
  method: 'POST',
  path: '',
  // Asking for a token has no effect to duplicate: a lost answer is asked again.
  idempotency: 'safe',
  profile: 'userFlow',
  notFound: 'fail',
  response: z.object({ access_token: z.string().min(1), expires_in: z.number().positive().optional() }),
};
const tokenProfile = resolveProfile('userFlow', { headersTimeout: '5 seconds', bodyTimeout: '5 seconds' });

/**
 * What a classified token-endpoint answer means for the call that needed the token: the client
 * credentials were refused (an operator must fix them), the endpoint is misconfigured, or it is
 * unavailable for now (retryable). In table order, first match wins.
 */
const tokenFailures: { types: FailureType[]; as: CredentialsError['type']; message: (o: Outcome) => string }[] = [
  // 400 `invalid_client` and 401 are both RFC 6749's answers to bad client credentials; 403 likewise.
  {
    types: [FailureType.RequestRejected, FailureType.Unauthorized, FailureType.CredentialsExpired],
    as: FailureType.Unauthorized,
    message: (o) => `token endpoint rejected the client credentials (${statusOf(o)}): check the client id and secret`,
  },
  // Our side refused its TLS certificate: it may be an impostor.
  {
    types: [FailureType.Misconfigured],
    as: FailureType.Misconfigured,
    message: (o) => `token endpoint's TLS certificate not trusted (${codeOf(o)}): check the integration's CA`,
  },
  // A token URL that does not exist or moved: fix the declaration.
  {
    types: [FailureType.NotFound, FailureType.UnexpectedRedirect],
    as: FailureType.Misconfigured,
    message: (o) => `token endpoint answered ${statusOf(o)}: check the token URL`,
  },
  // Everything else (down, slow, rate-limited, an answer without a token) passes: retry later.
  {
    types: Object.values(FailureType),
    as: FailureType.AuthUnavailable,
    message: (o) =>
      o.kind === 'transport' ? `token endpoint unreachable (${o.code})` : `token endpoint answered ${describe(o)}`,
  },
];

/**
 * Fetches an access token with the client-credentials grant (RFC 6749 §4.4): the client authenticates
 * with HTTP Basic (`client_secret_basic`, the default) or in the form (`client_secret_post`); `scope` and
 * `audience` are sent when declared. Over the integration's own pool, so mTLS applies to it too.
 */
export async function fetchToken(
  integration: Integration,
  auth: OAuth2ClientCredentials,
  deps: { secrets: SecretSource; transport: Transport; rules: UrlRules; logger: Logger },
): Promise<{ value: string; expiresInMs: number }> {
  const base = baseUrlOf(integration, deps.secrets, deps.rules);
  const url = checkBaseUrl(
    new URL(auth.tokenUrl.replace(/^\//, ''), `${base.href.replace(/\/$/, '')}/`).href,
    deps.rules.nodeEnv,
    deps.rules.allowHttpHosts,
  );
  const clientId = deps.secrets.value(auth.clientId);
  const clientSecret = deps.secrets.value(auth.clientSecret);
  const post = auth.clientAuthentication === 'post';
  const form = new URLSearchParams({
    grant_type: 'client_credentials',
    ...(auth.scope ? { scope: auth.scope } : {}),
    ...(auth.audience ? { audience: auth.audience } : {}),
    ...(post ? { client_id: clientId, client_secret: clientSecret } : {}),
  });
  const basic = Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString('base64');
  const started = performance.now();
  const outcome = await deps.transport.send(
    integration,
    {
      origin: url.origin,
      method: 'POST',
      path: url.pathname,
      logUrl: `${url.origin}${url.pathname}`,
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        accept: 'application/json',
        ...(post ? {} : { authorization: `Basic ${basic}` }),
      },
      body: form.toString(),
    },
    tokenProfile,
  );
  deps.logger.info(
    {
      integration: integration.name,
      url: `${url.origin}${url.pathname}`,
      status: outcome.kind === 'response' ? outcome.status : undefined,
      code: outcome.kind === 'transport' ? outcome.code : undefined,
      durationMs: Math.round(performance.now() - started),
    },
    'token request',
  );
  const verdict = classify(outcome, {
    spec: tokenEndpoint,
    profile: tokenProfile,
    attempt: 1,
    credentialsRefreshable: false,
  });
  if (verdict.ok) {
    const token = verdict.value as { access_token: string; expires_in?: number };
    deps.secrets.remember(token.access_token);
    return { value: token.access_token, expiresInMs: (token.expires_in ?? 3600) * 1000 };
  }
  const meaning = tokenFailures.find((f) => f.types.includes(verdict.type))!;
  throw new CredentialsError(meaning.message(outcome), meaning.as);
}

function statusOf(o: Outcome): string {
  return o.kind === 'response' ? String(o.status) : o.code;
}

function codeOf(o: Outcome): string {
  return o.kind === 'transport' && tlsVerificationCodes.has(o.code) ? o.code : statusOf(o);
}

function describe(o: Extract<Outcome, { kind: 'response' }>): string {
  return o.status >= 200 && o.status < 300 ? 'without an access_token' : String(o.status);
}
