import { isGrpcServiceError, type Connection } from '@temporalio/client';
import type { SearchAttributeType } from '@temporalio/common';
import { customSearchAttributes } from '../contracts/search-attributes';
import { checkNamespace, indexedValueType } from '../temporal/namespace-checks';

/** A proto Duration; protobufjs encodes a plain number as an int64 (the type says Long). */
type ProtoDuration = NonNullable<
  Parameters<Connection['workflowService']['registerNamespace']>[0]['workflowExecutionRetentionPeriod']
>;
const seconds = (n: number) => ({ seconds: n }) as unknown as ProtoDuration;

export interface EnsureNamespaceOptions {
  namespace: string;
  retentionDays: number;
  /** @default the project's custom search attributes (src/contracts/search-attributes.ts) */
  searchAttributes?: readonly { name: string; type: SearchAttributeType }[];
  onProgress?: (line: string) => void;
}

/**
 * Registers the namespace with its retention and custom search attributes, or brings an existing one to
 * them (retention updated, missing attributes added), through the frontend's WorkflowService and
 * OperatorService: what `temporal operator namespace create` and `search-attribute create` do. An attribute
 * that exists with another type is an error (changing it would need its removal: an operator's decision).
 * Ends with the same check the workers run at start-up.
 */
export async function ensureNamespace(connection: Connection, options: EnsureNamespaceOptions): Promise<void> {
  const { namespace } = options;
  const progress = options.onProgress ?? (() => {});
  const wanted = options.searchAttributes ?? customSearchAttributes;
  const retentionSeconds = options.retentionDays * 86_400;
  const described = await connection.workflowService.describeNamespace({ namespace }).catch((err: unknown) => {
    if (isGrpcServiceError(err) && Number(err.code) === 5 /* NOT_FOUND */) return undefined;
    throw err;
  });
  if (!described) {
    progress(`Registering namespace ${namespace} (retention ${options.retentionDays} days)`);
    await connection.workflowService
      .registerNamespace({ namespace, workflowExecutionRetentionPeriod: seconds(retentionSeconds) })
      .catch((err: unknown) => {
        if (!(isGrpcServiceError(err) && Number(err.code) === 6 /* ALREADY_EXISTS */)) throw err;
      });
  } else if (Number(described.config?.workflowExecutionRetentionTtl?.seconds ?? 0) !== retentionSeconds) {
    progress(`Setting the retention of namespace ${namespace} to ${options.retentionDays} days`);
    await connection.workflowService.updateNamespace({
      namespace,
      config: { workflowExecutionRetentionTtl: seconds(retentionSeconds) },
    });
  }
  // A namespace just registered may take a moment to reach every frontend cache.
  const present = await retry(() => connection.operatorService.listSearchAttributes({ namespace }), 20_000);
  const missing: Record<string, number> = {};
  for (const sa of wanted) {
    const has = present.customAttributes?.[sa.name];
    if (has === undefined || has === null) missing[sa.name] = indexedValueType[sa.type];
    else if (Number(has) !== indexedValueType[sa.type])
      throw new Error(
        `search attribute ${sa.name} exists in namespace ${namespace} with another type than ${sa.type}: remove it (temporal operator search-attribute remove --namespace ${namespace} --name ${sa.name}) and start again`,
      );
  }
  if (Object.keys(missing).length > 0) {
    progress(`Adding search attributes ${Object.keys(missing).join(', ')} to namespace ${namespace}`);
    await connection.operatorService.addSearchAttributes({ namespace, searchAttributes: missing });
  }
  await retry(
    () => checkNamespace(connection, { namespace, minRetentionMs: retentionSeconds * 1000, searchAttributes: wanted }),
    20_000,
  );
}

async function retry<T>(fn: () => Promise<T>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}
