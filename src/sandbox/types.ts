/** Public types of the provider sandbox. */

export interface SandboxCredentials {
  paymentsClientId: string;
  paymentsClientSecret: string;
  documentsApiKey: string;
  emailApiKey: string;
  crmApiKey: string;
  inventoryApiKey: string;
  /** Standard Webhooks secret: raw utf8, or `whsec_<base64>`. */
  webhookSecret: string;
}

export interface SandboxOptions {
  /** 0 picks a free port. @default 0 */
  port?: number;
  /** @default '127.0.0.1' */
  host?: string;
  credentials: SandboxCredentials;
  /** URL that document webhooks are POSTed to; no webhooks when unset. */
  webhookTarget?: string;
  /** Clock for token expiry, rate limits and timestamps (job timers stay real). @default Date.now */
  now?: () => number;
  /** Also serve every route over mutual TLS on a second port (see `Sandbox.mtlsUrl`). */
  tls?: SandboxTls;
}

/** PEM material for the sandbox's mTLS port (`src/sandbox/tls.ts` generates throwaway ones). */
export interface SandboxTls {
  /** Client certificates must be signed by this CA; others fail the handshake. */
  ca: string;
  /** Server certificate and key. */
  cert: string;
  key: string;
  /** 0 picks a free port. @default 0 */
  port?: number;
}

export type ProviderName = 'payments' | 'documents' | 'email' | 'crm' | 'inventory';

export type LedgerEffect =
  'payment.created' | 'refund.created' | 'document.generated' | 'email.sent' | 'customer.updated' | 'stock.reserved';

/** One side effect the sandbox applied: what the "provider" really did, whatever the client saw. */
export interface LedgerEntry {
  seq: number;
  at: string;
  provider: ProviderName;
  effect: LedgerEffect;
  idempotencyKey: string | null;
  resourceId: string;
  request: Record<string, unknown>;
}

export interface Sandbox {
  /** e.g. `http://127.0.0.1:54321` */
  url: string;
  /** With `tls`: the same routes behind mutual TLS, e.g. `https://127.0.0.1:54322`. */
  mtlsUrl?: string;
  close(): Promise<void>;
  ledger(): LedgerEntry[];
}
