import { isIP } from 'node:net';

/**
 * Where an integration may send requests: HTTPS only (plain HTTP to loopback when NODE_ENV is
 * development or test), and never to link-local or cloud metadata addresses (SSRF). Checked on the
 * configured base URL and again on every address DNS returns, at connect time.
 */
export class UrlPolicyError extends Error {
  override readonly name = 'UrlPolicyError';
}

const metadataHosts = new Set(['metadata.google.internal', 'metadata', 'instance-data', 'metadata.azure.com']);

export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127\./.test(h);
}

/** Link-local (169.254/16, fe80::/10, which hold every cloud's metadata service), unspecified, and AWS's IPv6 IMDS. */
export function isForbiddenAddress(address: string): boolean {
  const a = address.replace(/^\[|\]$/g, '').toLowerCase();
  if (isIP(a) === 4) return a.startsWith('169.254.') || a === '0.0.0.0';
  if (isIP(a) === 6) {
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(a);
    if (mapped) return isForbiddenAddress(mapped[1]!);
    return /^fe[89ab][0-9a-f]:/.test(a) || a === '::' || a === 'fd00:ec2::254';
  }
  return false;
}

/**
 * @param allowHttpHosts hosts that may be reached over plain HTTP whatever NODE_ENV says (the sandbox
 *   inside docker-compose's network); empty in a real deployment.
 */
export function checkBaseUrl(raw: string, nodeEnv: string | undefined, allowHttpHosts: readonly string[] = []): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UrlPolicyError(`base URL ${JSON.stringify(raw)} is not an absolute URL`);
  }
  const devLoopback = (nodeEnv === 'development' || nodeEnv === 'test') && isLoopback(url.hostname);
  const allowed = devLoopback || allowHttpHosts.includes(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && allowed)) {
    throw new UrlPolicyError(
      `base URL ${url.origin} is not HTTPS: use https:// (plain http is allowed only to loopback with NODE_ENV=development or test, or to a host listed in ALLOW_HTTP_HOSTS)`,
    );
  }
  if (url.username || url.password) throw new UrlPolicyError(`base URL ${url.origin} must not carry credentials`);
  if (isForbiddenAddress(url.hostname) || metadataHosts.has(url.hostname.toLowerCase())) {
    throw new UrlPolicyError(
      `base URL ${url.origin} points at a link-local or metadata address, which is never allowed`,
    );
  }
  return url;
}
