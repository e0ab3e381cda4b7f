import { bulkResolveRequestProblems } from '../../src/client/bulk-resolve';
import { OpsUsageError, parseOpsArgs } from '../../src/cli/ops-args';
import { bulkResolveWorkflowId } from '../../src/contracts/bulk-resolve';

const query = "NeedsAttention = true AND IntegrationName = 'email'";

describe('npm run ops arguments', () => {
  it('turns each action into the decision the targets validate', () => {
    const decisionOf = (...extra: string[]) => {
      const parsed = parseOpsArgs(['resolve', '--query', query, ...extra], {});
      if (parsed.command !== 'resolve') throw new Error('not a resolve');
      return parsed.request.decision;
    };
    expect(decisionOf('--action', 'retry')).toEqual({ action: 'retry' });
    expect(decisionOf('--action', 'retryWithBudget', '--budget', '2 hours')).toEqual({
      action: 'retryWithBudget',
      budget: '2 hours',
    });
    expect(decisionOf('--action', 'skip', '--result', '{"id":"pay_1"}')).toEqual({
      action: 'skip',
      result: { id: 'pay_1' },
    });
    expect(decisionOf('--action', 'skip', '--result', 'null')).toEqual({ action: 'skip', result: null });
    expect(decisionOf('--action', 'fail', '--reason', 'customer cancelled')).toEqual({
      action: 'fail',
      reason: 'customer cancelled',
    });
  });

  it('fills the rate, the reason and who asked, and follows unless told not to', () => {
    expect(
      parseOpsArgs(['resolve', '--query', query, '--action', 'retry', '--rate', '20', '--no-follow'], { USER: 'ana' }),
    ).toEqual({
      command: 'resolve',
      follow: false,
      request: {
        query,
        decision: { action: 'retry' },
        ratePerSecond: 20,
        reason: 'bulk retry from the terminal',
        requestedBy: 'ana',
      },
    });
  });

  it.each([
    [['resolve', '--query', query, '--action', 'skip'], /--action skip needs --result/],
    [['resolve', '--query', query, '--action', 'skip', '--result', '{nope'], /--result must be JSON/],
    [['resolve', '--query', query, '--action', 'retryWithBudget'], /needs --budget, e.g. --budget "2 hours"/],
    [['resolve', '--query', query, '--action', 'retryWithBudget', '--budget', 'soon'], /budget such as "30 minutes"/],
    [['resolve', '--query', query, '--action', 'fail'], /--action fail needs --reason/],
    [['resolve', '--query', query, '--action', 'undo'], /unknown --action "undo"/],
    [['resolve', '--query', query, '--action', 'retry', '--rate', 'fast'], /--rate must be a number/],
    [['resolve', '--query', query, '--action', 'retry', '--rate', '0'], /--rate must be a number above 0/],
    [['resolve', '--action', 'retry'], /--query is required/],
    [['resolve', '--query', query, '--action', 'retry', '--speed', '3'], /Unknown option '--speed'/],
    [['progress'], /progress needs one bulk-resolve workflow id/],
    [['cancel', 'a', 'b'], /cancel needs one bulk-resolve workflow id/],
    [[], /say what to do: resolve, progress or cancel/],
  ])('refuses %j, saying what to type', (argv, message) => {
    expect(() => parseOpsArgs(argv, {})).toThrow(OpsUsageError);
    expect(() => parseOpsArgs(argv, {})).toThrow(message);
    expect(() => parseOpsArgs(argv, {})).toThrow(/Usage:\n {2}npm run ops -- resolve/);
  });

  it('checks a request from the client as the CLI does', () => {
    expect(
      bulkResolveRequestProblems({ query: ' ', decision: { action: 'compensate' }, reason: '', requestedBy: '' }),
    ).toEqual([
      `query is required, e.g. "NeedsAttention = true AND IntegrationName = 'email'"`,
      'reason is required (why these workflows get this decision)',
      'requestedBy is required (an operator handle, not an email address)',
    ]);
  });

  it('makes job IDs from the time and a random suffix only', () => {
    expect(bulkResolveWorkflowId(new Date('2026-12-01T15:30:00.123Z'), '1a2b3c4d')).toBe(
      'bulk-resolve-20261201T153000Z-1a2b3c4d',
    );
  });
});
