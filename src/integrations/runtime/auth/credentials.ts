import type { CallMetrics } from '../../../observability/call-metrics';
import type { Logger } from '../../../observability/logger';
import type { Integration } from '../../kit/define';
import { FailureType } from '../../kit/failures';
import type { Verdict } from '../classify';
import { scrubText } from '../redact';
import type { SecretSource } from '../secrets';
import type { UrlRules } from '../transport/request';
import type { Transport } from '../transport/transport';
import { CredentialsError } from './credentials-error';
import { fetchToken, type OAuth2ClientCredentials } from './oauth2';
import { TokenCache, type Token } from './token-cache';

/**
 * The credentials a request carries: none, an API key (read at call time, so a rotated secret file takes
 * effect at once) or an OAuth2 token (one cache per integration, refreshed ahead of expiry). mTLS is the
 * transport's: the client certificate is on the pool.
 */
export class Credentials {
  private readonly tokens = new Map<string, TokenCache>();

  constructor(
    private readonly deps: {
      secrets: SecretSource;
      transport: Transport;
      rules: UrlRules;
      logger: Logger;
      metrics?: CallMetrics;
    },
  ) {}

  async headers(integration: Integration): Promise<{ headers: Record<string, string>; token?: Token }> {
    const auth = integration.auth;
    switch (auth.kind) {
      case 'none':
        return { headers: {} };
      case 'apiKey': {
        const key = this.deps.secrets.value(auth.key);
        return { headers: { [auth.header.toLowerCase()]: auth.scheme ? `${auth.scheme} ${key}` : key } };
      }
      case 'oauth2ClientCredentials': {
        const token = await this.cacheFor(integration, auth).get();
        return { headers: { authorization: `Bearer ${token.value}` }, token };
      }
    }
  }

  /** Whether a 401 with this token can be cured by fetching another (not if it was fetched after a 401). */
  refreshable(integration: Integration, token: Token | undefined): boolean {
    return integration.auth.kind === 'oauth2ClientCredentials' && !token?.afterRejection;
  }

  /** Tells the token cache how the call went: a rejected token is dropped, an accepted one confirmed. */
  settle(integration: Integration, token: Token | undefined, verdict: Verdict): void {
    if (!token) return;
    const cache = this.tokens.get(integration.name);
    if (verdict.ok) cache?.confirm(token);
    else if (verdict.type === FailureType.CredentialsExpired) cache?.invalidate(token);
  }

  private cacheFor(integration: Integration, auth: OAuth2ClientCredentials): TokenCache {
    let cache = this.tokens.get(integration.name);
    if (!cache) {
      cache = new TokenCache({
        refreshAhead: auth.refreshAhead,
        fetch: () =>
          fetchToken(integration, auth, this.deps).then(
            (token) => {
              this.deps.metrics?.tokenRefresh({ integration: integration.name, outcome: 'ok' });
              return token;
            },
            (err: unknown) => {
              const outcome = err instanceof CredentialsError ? err.type : 'Misconfigured';
              this.deps.metrics?.tokenRefresh({ integration: integration.name, outcome });
              throw err;
            },
          ),
        onBackgroundError: (err) =>
          this.deps.logger.warn(
            {
              integration: integration.name,
              error: scrubText(String((err as Error).message), this.deps.secrets.knownSecrets()),
            },
            'background token refresh failed; serving the cached token while it is valid',
          ),
      });
      this.tokens.set(integration.name, cache);
    }
    return cache;
  }
}
