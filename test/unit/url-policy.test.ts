import { UrlPolicyError, checkBaseUrl, isForbiddenAddress } from '../../src/integrations/runtime/url-policy';

describe('checkBaseUrl', () => {
  it('accepts HTTPS anywhere', () => {
    expect(checkBaseUrl('https://api.example.com/v1', 'production').href).toBe('https://api.example.com/v1');
  });

  it('accepts plain HTTP to loopback in development and test only', () => {
    expect(checkBaseUrl('http://127.0.0.1:8080/x', 'development').origin).toBe('http://127.0.0.1:8080');
    expect(checkBaseUrl('http://localhost:8080', 'test').origin).toBe('http://localhost:8080');
    expect(() => checkBaseUrl('http://127.0.0.1:8080', 'production')).toThrow(/is not HTTPS: use https:\/\//);
    expect(() => checkBaseUrl('http://api.example.com', 'development')).toThrow(UrlPolicyError);
  });

  it('accepts plain HTTP to a host listed as allowed (the sandbox in docker-compose), and only to it', () => {
    expect(checkBaseUrl('http://sandbox:8081/payments', 'production', ['sandbox']).origin).toBe('http://sandbox:8081');
    expect(() => checkBaseUrl('http://other:8081', 'production', ['sandbox'])).toThrow(/ALLOW_HTTP_HOSTS/);
  });

  it('refuses link-local and metadata addresses even over HTTPS', () => {
    for (const url of ['https://169.254.169.254/latest', 'https://[fe80::1]/', 'https://metadata.google.internal/']) {
      expect(() => checkBaseUrl(url, 'production')).toThrow(/link-local or metadata/);
    }
  });

  it('refuses credentials in the URL and non-URLs', () => {
    expect(() => checkBaseUrl('https://user:pw@api.example.com', 'production')).toThrow(/must not carry credentials/);
    expect(() => checkBaseUrl('api.example.com', 'production')).toThrow(/not an absolute URL/);
  });
});

describe('isForbiddenAddress', () => {
  it.each([
    ['169.254.169.254', true],
    ['::ffff:169.254.169.254', true],
    ['fd00:ec2::254', true],
    ['fe80::abcd', true],
    ['0.0.0.0', true],
    ['10.0.0.5', false],
    ['127.0.0.1', false],
    ['2001:db8::1', false],
  ])('%s -> %s', (address, forbidden) => {
    expect(isForbiddenAddress(address)).toBe(forbidden);
  });
});
