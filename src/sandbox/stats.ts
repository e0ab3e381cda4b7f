/** Counters behind `GET /admin/stats`, so tests can assert on how a client behaved (retries, token reuse). */
export interface StatsSnapshot {
  tokenRequests: number;
  tokensIssued: number;
  requests: Record<string, number>;
  responses: Record<string, number>;
  rateLimited: number;
  emailRateLimited: number;
  faultsInjected: Record<string, number>;
  webhookDeliveries: { attempts: number; delivered: number; failed: number };
}

function empty(): StatsSnapshot {
  return {
    tokenRequests: 0,
    tokensIssued: 0,
    requests: {},
    responses: {},
    rateLimited: 0,
    emailRateLimited: 0,
    faultsInjected: {},
    webhookDeliveries: { attempts: 0, delivered: 0, failed: 0 },
  };
}

function bump(counts: Record<string, number>, key: string): void {
  counts[key] = (counts[key] ?? 0) + 1;
}

export class Stats {
  private data = empty();

  tokenRequested(issued: boolean): void {
    this.data.tokenRequests += 1;
    if (issued) this.data.tokensIssued += 1;
  }

  request(routeKey: string): void {
    bump(this.data.requests, routeKey);
  }

  response(status: number): void {
    bump(this.data.responses, String(status));
    if (status === 429) this.data.rateLimited += 1;
  }

  emailRateLimited(): void {
    this.data.emailRateLimited += 1;
  }

  fault(kind: string): void {
    bump(this.data.faultsInjected, kind);
  }

  webhookAttempt(delivered: boolean): void {
    this.data.webhookDeliveries.attempts += 1;
    if (delivered) this.data.webhookDeliveries.delivered += 1;
    else this.data.webhookDeliveries.failed += 1;
  }

  snapshot(): StatsSnapshot {
    return structuredClone(this.data);
  }

  reset(): void {
    this.data = empty();
  }
}
