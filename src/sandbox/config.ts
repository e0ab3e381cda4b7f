import { z } from 'zod';

/** Knobs tests turn through `POST /admin/config`. */
export interface SandboxConfig {
  tokenTtlSeconds: number;
  jobMs: number;
  emailRateLimit: { limit: number; windowMs: number };
  webhook: {
    target: string | null;
    duplicate: boolean;
    lateMs: number;
    maxAttempts: number;
    retryBackoffMs: number;
  };
  crm: { latencyMs: number; failureRate: number };
}

export function defaultConfig(webhookTarget: string | null): SandboxConfig {
  return {
    tokenTtlSeconds: 300,
    jobMs: 1500,
    emailRateLimit: { limit: 100, windowMs: 60_000 },
    webhook: { target: webhookTarget, duplicate: false, lateMs: 0, maxAttempts: 5, retryBackoffMs: 200 },
    crm: { latencyMs: 0, failureRate: 0 },
  };
}

const ms = z.int().min(0).max(600_000);

export const configPatchSchema = z.strictObject({
  tokenTtlSeconds: z.int().min(1).max(86_400).optional(),
  jobMs: ms.optional(),
  emailRateLimit: z
    .strictObject({
      limit: z.int().min(1).max(1_000_000).optional(),
      windowMs: z.int().min(1).max(3_600_000).optional(),
    })
    .optional(),
  webhook: z
    .strictObject({
      target: z
        .url({ protocol: /^https?$/ })
        .nullable()
        .optional(),
      duplicate: z.boolean().optional(),
      lateMs: ms.optional(),
      maxAttempts: z.int().min(1).max(10).optional(),
      retryBackoffMs: z.int().min(0).max(60_000).optional(),
    })
    .optional(),
  crm: z.strictObject({ latencyMs: ms.optional(), failureRate: z.number().min(0).max(1).optional() }).optional(),
});

export type ConfigPatch = z.output<typeof configPatchSchema>;

/** Drops undefined fields so a partial patch never blanks a setting. */
function defined<T extends object>(value: T | undefined): Partial<T> {
  if (!value) return {};
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

export function applyConfigPatch(config: SandboxConfig, patch: ConfigPatch): void {
  if (patch.tokenTtlSeconds !== undefined) config.tokenTtlSeconds = patch.tokenTtlSeconds;
  if (patch.jobMs !== undefined) config.jobMs = patch.jobMs;
  Object.assign(config.emailRateLimit, defined(patch.emailRateLimit));
  Object.assign(config.webhook, defined(patch.webhook));
  Object.assign(config.crm, defined(patch.crm));
}
