import { DeterminismViolationError } from '@temporalio/workflow';
import { Worker } from '@temporalio/worker';
import { loadHistories } from './histories';
import { testEnv } from '../support/temporal';

const histories = loadHistories();

describe('replaying recorded histories', () => {
  it('replays every recorded history with the current workflow code', async () => {
    expect(histories.length).toBeGreaterThan(0);
    const outcomes: Record<string, string> = {};
    const results = Worker.runReplayHistories({ workflowBundle: { codePath: testEnv.workflowBundle } }, histories);
    for await (const result of results) {
      const file = histories.find((h) => h.workflowId === result.workflowId)?.file ?? result.workflowId;
      outcomes[file] = result.error ? `${result.error.name}: ${result.error.message}` : 'ok';
    }
    expect(outcomes).toEqual(Object.fromEntries(histories.map((h) => [h.file, 'ok'])));
  });

  it('catches an incompatible change to chargePayment as a DeterminismViolationError', async () => {
    const charge = histories.find((h) => h.workflowType === 'chargePayment');
    expect(charge).toBeDefined();
    await expect(
      Worker.runReplayHistory(
        { workflowsPath: require.resolve('./incompatible.workflows') },
        charge!.history,
        charge!.workflowId,
      ),
    ).rejects.toBeInstanceOf(DeterminismViolationError);
  });
});
