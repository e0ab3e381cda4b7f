import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { describeSettings, TemporalConnectionError, type TemporalSettings } from './settings';

const certificateRefused =
  /certificate.?required|certificaterequired|bad.?certificate|unknown.?ca|handshake|alert|tls|ssl|certificate/i;

/**
 * Turns a failed connect into an error that says where, how, and what to do: a server that refuses the
 * handshake (its mTLS wants a certificate this process does not present) is told apart from one that is down.
 */
export function connectError(
  err: unknown,
  settings: TemporalSettings,
  what = 'Temporal',
  diagnosis?: string,
): TemporalConnectionError {
  if (err instanceof TemporalConnectionError) return err;
  const cause = errorChain(err) + (diagnosis ? ` (TLS probe: ${diagnosis})` : '');
  const where = `${what} at ${settings.address} (${describeSettings(settings)})`;
  let hint: string;
  if (/unauthenticated|permission.?denied|request unauthorized|invalid api key/i.test(cause)) {
    hint =
      settings.apiKey || settings.apiKeyFile
        ? 'The server refused the credentials: check TEMPORAL_API_KEY(_FILE) and the namespace'
        : 'The server wants credentials: set TEMPORAL_API_KEY(_FILE) or TEMPORAL_TLS_CERT_FILE/TEMPORAL_TLS_KEY_FILE';
  } else if (diagnosis === SPEAKS_TLS) {
    hint =
      'The server speaks TLS: set TEMPORAL_TLS_CA_FILE to the CA of its certificate (or TEMPORAL_TLS=true for a public one)';
  } else if (certificateRefused.test(cause) || (settings.tls && /connection reset|broken pipe|closed/i.test(cause))) {
    hint = !settings.tls
      ? 'The server speaks TLS: set TEMPORAL_TLS_CA_FILE (or TEMPORAL_TLS=true)'
      : !settings.tls.certFile
        ? 'The server refused the TLS handshake: it requires a client certificate (mTLS): set TEMPORAL_TLS_CERT_FILE and TEMPORAL_TLS_KEY_FILE'
        : 'The TLS handshake failed: check that TEMPORAL_TLS_CA_FILE signed the server certificate, TEMPORAL_TLS_SERVER_NAME matches it, and the server trusts the client certificate';
  } else {
    hint = 'Start it (npm start, or npm run cluster) or point TEMPORAL_ADDRESS at a running frontend';
  }
  return new TemporalConnectionError(`Cannot connect to ${where}: ${cause}. ${hint}.`, { cause: err });
}

const SPEAKS_TLS = 'the server speaks TLS, this connection does not';

/**
 * What a plain TLS handshake with the same settings says, when the SDK's own error hides it (the client's gRPC
 * reports only "failed to connect before the deadline"): the server's alert (certificate required, unknown
 * CA), a name mismatch, or that a plaintext connection reached a TLS server. Undefined when the handshake
 * goes through or nothing answers.
 */
export function probeTls(settings: TemporalSettings, timeoutMs = 2_000): Promise<string | undefined> {
  const i = settings.address.lastIndexOf(':');
  const host = settings.address.slice(0, i).replace(/^\[|\]$/g, '');
  const port = Number(settings.address.slice(i + 1));
  const tls = settings.tls;
  return new Promise((resolve) => {
    let done = false;
    const finish = (result: string | undefined) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    let socket: ReturnType<typeof tlsConnect>;
    try {
      const servername = tls?.serverName ?? (isIP(host) ? undefined : host);
      socket = tlsConnect({
        host,
        port,
        ...(servername ? { servername } : {}),
        ALPNProtocols: ['h2'],
        rejectUnauthorized: Boolean(tls),
        ...(tls?.caFile ? { ca: readFileSync(tls.caFile) } : {}),
        ...(tls?.certFile && tls.keyFile ? { cert: readFileSync(tls.certFile), key: readFileSync(tls.keyFile) } : {}),
        ...(tls?.serverName && isIP(host) ? { checkServerIdentity: () => undefined } : {}),
      });
    } catch (err) {
      resolve((err as Error).message);
      return;
    }
    const timer = setTimeout(() => finish(undefined), timeoutMs);
    socket.once('secureConnect', () => {
      if (!tls) return finish(SPEAKS_TLS);
      // TLS 1.3: the server checks the client's certificate after the handshake; its alert comes next.
      setTimeout(() => finish(undefined), 300);
    });
    socket.once('error', (err: NodeJS.ErrnoException) =>
      finish(
        tls || !/ECONNREFUSED|ECONNRESET|EPIPE/.test(err.code ?? '')
          ? `${err.code ?? ''} ${err.message}`.trim()
          : undefined,
      ),
    );
  });
}

function errorChain(err: unknown): string {
  const parts: string[] = [];
  for (let e = err; e instanceof Error && parts.length < 4; e = e.cause) {
    const message = e.message.split('\n')[0]!.trim();
    if (message && !parts.some((p) => p.includes(message))) parts.push(message);
  }
  return parts.join(': ') || String(err);
}
