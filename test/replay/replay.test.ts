import { DeterminismViolationError } from '@temporalio/workflow';
import { Worker } from '@temporalio/worker';
import { loadHistories } from './histories';
import { testEnv } from '../support/temporal';

const histories = loadHistories();

describe('replaying recorded histories', () => {
  it('has a history for every recorded path', () => {
    expect(histories.map((h) => h.workflowType)).toEqual(
      expect.arrayContaining(['chargePayment', 'fulfillOrder', 'awaitDocumentJob']),
    );
  });

  it('replays all of them in one replay worker with the current workflow code', async () => {
    const outcomes: string[] = [];
    for await (const result of Worker.runReplayHistories(
      { workflowBundle: { codePath: testEnv.workflowBundle } },
      histories,
    )) {
      outcomes.push(result.error ? `${result.workflowId}: ${result.error.name}: ${result.error.message}` : 'ok');
    }
    expect(outcomes).toEqual(histories.map(() => 'ok'));
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
