import { parseArgs } from 'node:util';
import { bulkResolveRequestProblems, type BulkResolveRequest } from '../client/bulk-resolve';
import type { OperatorDecision } from '../contracts/messages';

/** What `npm run ops -- ...` was asked to do. */
export type OpsCommand =
  | { command: 'resolve'; request: BulkResolveRequest; follow: boolean }
  | { command: 'progress'; workflowId: string }
  | { command: 'cancel'; workflowId: string };

export const OPS_USAGE = [
  'Usage:',
  `  npm run ops -- resolve --query "<visibility query>" --action retry|retryWithBudget|skip|compensate|fail`,
  `                 [--budget "2 hours"] [--result '<json>'] [--reason "INC-123: provider back"] [--rate 5] [--no-follow]`,
  '  npm run ops -- progress <bulk-resolve workflow id>',
  '  npm run ops -- cancel <bulk-resolve workflow id>',
  'Example:',
  `  npm run ops -- resolve --query "NeedsAttention = true AND IntegrationName = 'email'" --action retry --reason "INC-42"`,
].join('\n');

/** A command line that cannot run, with what to type instead. */
export class OpsUsageError extends Error {
  constructor(problem: string) {
    super(`${problem}\n\n${OPS_USAGE}`);
    this.name = 'OpsUsageError';
  }
}

/** Parses the arguments after `npm run ops --`; throws {@link OpsUsageError} saying what to type. */
export function parseOpsArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): OpsCommand {
  const [command, ...rest] = argv;
  if (command === 'progress' || command === 'cancel') {
    const [workflowId, ...extra] = rest;
    if (!workflowId || workflowId.startsWith('-') || extra.length > 0)
      throw new OpsUsageError(
        `${command} needs one bulk-resolve workflow id, e.g. npm run ops -- ${command} bulk-resolve-…`,
      );
    return { command, workflowId };
  }
  if (command !== 'resolve')
    throw new OpsUsageError(command ? `unknown command "${command}"` : 'say what to do: resolve, progress or cancel');
  let values;
  try {
    ({ values } = parseArgs({
      args: rest,
      options: {
        query: { type: 'string' },
        action: { type: 'string' },
        budget: { type: 'string' },
        result: { type: 'string' },
        reason: { type: 'string' },
        rate: { type: 'string' },
        'requested-by': { type: 'string' },
        'no-follow': { type: 'boolean' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new OpsUsageError((err as Error).message);
  }
  if (!values.query) throw new OpsUsageError('--query is required');
  const decision = decisionOf(values);
  const rate = values.rate === undefined ? undefined : Number(values.rate);
  if (rate !== undefined && !Number.isFinite(rate)) throw new OpsUsageError(`--rate must be a number, e.g. --rate 5`);
  const action = values.action ?? '';
  const request: BulkResolveRequest = {
    query: values.query,
    decision,
    ratePerSecond: rate,
    reason: values.reason ?? `bulk ${action} from the terminal`,
    requestedBy: values['requested-by'] ?? env.USER ?? 'operator',
  };
  const problems = bulkResolveRequestProblems(request);
  if (problems.length > 0) throw new OpsUsageError(problems.map(flagged).join('\n'));
  return { command: 'resolve', request, follow: !values['no-follow'] };
}

function decisionOf(values: { action?: string; budget?: string; result?: string; reason?: string }): OperatorDecision {
  switch (values.action) {
    case 'retry':
    case 'compensate':
      return { action: values.action };
    case 'retryWithBudget':
      if (!values.budget) throw new OpsUsageError('--action retryWithBudget needs --budget, e.g. --budget "2 hours"');
      return { action: 'retryWithBudget', budget: values.budget };
    case 'skip': {
      if (values.result === undefined)
        throw new OpsUsageError(
          `--action skip needs --result, the JSON every target continues with, e.g. --result '{"id":"pay_1"}'`,
        );
      try {
        return { action: 'skip', result: JSON.parse(values.result) as unknown };
      } catch {
        throw new OpsUsageError(`--result must be JSON, e.g. --result '{"id":"pay_1"}'`);
      }
    }
    case 'fail':
      if (!values.reason) throw new OpsUsageError('--action fail needs --reason, which each target fails with');
      return { action: 'fail', reason: values.reason };
    default:
      throw new OpsUsageError(
        values.action
          ? `unknown --action "${values.action}"`
          : '--action is required: retry, retryWithBudget, skip, compensate or fail',
      );
  }
}

/** The request's field names as the flags an operator types. */
function flagged(problem: string): string {
  return problem
    .replace(/^ratePerSecond/, '--rate')
    .replace(/^query/, '--query')
    .replace(/^reason/, '--reason');
}
