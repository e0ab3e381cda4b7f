import { isGrpcServiceError, type Connection } from '@temporalio/client';
import type { Duration, SearchAttributeType } from '@temporalio/common';
import { customSearchAttributes } from '../contracts/search-attributes';
import { durationMs } from '../integrations/kit/duration';

/** The proto's `IndexedValueType` numbers (temporal.api.enums.v1), which the SDK exports only deep inside. */
export const indexedValueType: Record<SearchAttributeType, number> = {
  TEXT: 1,
  KEYWORD: 2,
  INT: 3,
  DOUBLE: 4,
  BOOL: 5,
  DATETIME: 6,
  KEYWORD_LIST: 7,
};
const typeName = (n: number | null | undefined): string =>
  Object.entries(indexedValueType).find(([, v]) => v === n)?.[0] ?? `unknown (${n})`;

/** `temporal operator search-attribute create --type` spells types this way. */
const cliType: Record<SearchAttributeType, string> = {
  TEXT: 'Text',
  KEYWORD: 'Keyword',
  INT: 'Int',
  DOUBLE: 'Double',
  BOOL: 'Bool',
  DATETIME: 'Datetime',
  KEYWORD_LIST: 'KeywordList',
};

export interface NamespaceCheckOptions {
  namespace: string;
  /** The retention the namespace must keep closed workflows at least for, in ms. */
  minRetentionMs: number;
  /** Connection flags for the `temporal` commands in the messages (`--address ...`; see cliConnectionFlags). */
  cliFlags?: string;
  /** @default the project's custom search attributes (src/contracts/search-attributes.ts) */
  searchAttributes?: readonly { name: string; type: SearchAttributeType }[];
}

export interface NamespaceProblem {
  what: string;
  /** The exact command that fixes it. */
  fix: string;
}

export class NamespaceCheckError extends Error {
  override readonly name = 'NamespaceCheckError';
  constructor(
    readonly namespace: string,
    readonly problems: NamespaceProblem[],
  ) {
    super(
      [
        `Temporal namespace ${namespace} is not ready for this project:`,
        ...problems.map((p) => `  - ${p.what}\n    fix: ${p.fix}`),
      ].join('\n'),
    );
  }
}

const DAY_MS = 86_400_000;

/** `14d`, `36h`: how the CLI's `--retention` reads a duration, rounded up to whole hours. */
function retentionFlag(ms: number): string {
  return ms % DAY_MS === 0 ? `${ms / DAY_MS}d` : `${Math.ceil(ms / 3_600_000)}h`;
}

function describeMs(ms: number): string {
  return ms % DAY_MS === 0 ? `${ms / DAY_MS} day(s)` : `${(ms / 3_600_000).toFixed(1)} hour(s)`;
}

/**
 * The start-up check of workers and the receiver: the namespace exists, each custom search attribute the
 * workflows set exists with its type (a workflow upserting a missing one fails its task, again and again),
 * and the retention is at least `minRetentionMs` (closed workflow IDs deduplicate webhooks and orders only
 * while Temporal remembers them). Throws {@link NamespaceCheckError} listing every problem with the exact
 * command that fixes it. Connection failures are thrown as they are (the caller decides whether to wait).
 */
export async function checkNamespace(connection: Connection, options: NamespaceCheckOptions): Promise<void> {
  const { namespace } = options;
  const addr = options.cliFlags ? ` ${options.cliFlags}` : '';
  const wanted = options.searchAttributes ?? customSearchAttributes;
  const retention = retentionFlag(Math.max(options.minRetentionMs, DAY_MS));
  let described;
  try {
    described = await connection.workflowService.describeNamespace({ namespace });
  } catch (err) {
    if (isGrpcServiceError(err) && Number(err.code) === 5 /* NOT_FOUND */) {
      throw new NamespaceCheckError(namespace, [
        {
          what: 'the namespace does not exist',
          fix: [
            `temporal operator namespace create --namespace ${namespace} --retention ${retention}${addr}`,
            ...wanted.map(
              (sa) =>
                `temporal operator search-attribute create --namespace ${namespace} --name ${sa.name} --type ${cliType[sa.type]}${addr}`,
            ),
          ].join(' && '),
        },
      ]);
    }
    throw err;
  }
  const problems: NamespaceProblem[] = [];
  const ttl = described.config?.workflowExecutionRetentionTtl;
  const retentionMs = Number(ttl?.seconds ?? 0) * 1000 + Math.floor((ttl?.nanos ?? 0) / 1e6);
  if (retentionMs < options.minRetentionMs) {
    problems.push({
      what: `its retention is ${describeMs(retentionMs)}, shorter than TEMPORAL_MIN_RETENTION (${describeMs(options.minRetentionMs)}): a webhook redelivered after the retention would run again`,
      fix: `temporal operator namespace update --namespace ${namespace} --retention ${retentionFlag(options.minRetentionMs)}${addr}`,
    });
  }
  const listed = await connection.operatorService.listSearchAttributes({ namespace });
  const present = listed.customAttributes ?? {};
  for (const sa of wanted) {
    const has = present[sa.name];
    const create = `temporal operator search-attribute create --namespace ${namespace} --name ${sa.name} --type ${cliType[sa.type]}${addr}`;
    if (has === undefined || has === null) {
      problems.push({ what: `the custom search attribute ${sa.name} (${sa.type}) does not exist`, fix: create });
    } else if (Number(has) !== indexedValueType[sa.type]) {
      problems.push({
        what: `the custom search attribute ${sa.name} is ${typeName(has)}, the workflows set it as ${sa.type}`,
        fix: `temporal operator search-attribute remove --namespace ${namespace} --name ${sa.name} --yes${addr} && ${create}`,
      });
    }
  }
  if (problems.length > 0) throw new NamespaceCheckError(namespace, problems);
}

/**
 * The check as a process runs it at start-up, from its configuration: skipped with
 * `TEMPORAL_STARTUP_CHECKS=false`, the minimum retention from `TEMPORAL_MIN_RETENTION`.
 */
export async function startupCheck(
  connection: Connection,
  config: { TEMPORAL_NAMESPACE: string; TEMPORAL_MIN_RETENTION: string; TEMPORAL_STARTUP_CHECKS: 'true' | 'false' },
  cliFlags?: string,
): Promise<'checked' | 'skipped'> {
  if (config.TEMPORAL_STARTUP_CHECKS === 'false') return 'skipped';
  await checkNamespace(connection, {
    namespace: config.TEMPORAL_NAMESPACE,
    minRetentionMs: durationMs(config.TEMPORAL_MIN_RETENTION as Duration),
    cliFlags,
  });
  return 'checked';
}
