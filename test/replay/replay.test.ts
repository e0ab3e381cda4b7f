import { defaultPayloadConverter } from '@temporalio/common';
import { DeterminismViolationError } from '@temporalio/workflow';
import { Worker } from '@temporalio/worker';
import * as workflows from '../../src/workflows';
import { loadHistories, secretsIn } from './histories';
import { testEnv } from '../support/temporal';

const histories = loadHistories();

describe('replaying recorded histories', () => {
  it('has a history for every recorded path, of every workflow type the workers register', () => {
    expect(new Set(histories.map((h) => h.workflowType))).toEqual(new Set(Object.keys(workflows)));
  });

  it('has every run of each continued-as-new workflow (numbered files, in order)', () => {
    const continued = new Map<string, typeof histories>();
    for (const h of histories) {
      const match = /^(.*)\.(\d+)\.json$/.exec(h.file);
      if (match) continued.set(match[1]!, [...(continued.get(match[1]!) ?? []), h]);
    }
    expect([...continued.keys()]).toEqual(
      expect.arrayContaining([
        'await-document-job.deadline-timers-continued',
        'email-batcher.size-timer-malformed-continued-drained',
        'integration-control.breaker-probes-operators-continued',
      ]),
    );
    for (const runs of continued.values()) {
      runs.sort((a, b) => Number(/\.(\d+)\.json$/.exec(a.file)![1]) - Number(/\.(\d+)\.json$/.exec(b.file)![1]));
      const starts = runs.map((r) => r.history.events?.[0]?.workflowExecutionStartedEventAttributes);
      const ends = runs.map((r) => r.history.events?.at(-1)?.workflowExecutionContinuedAsNewEventAttributes);
      // Each run but the last continues as new into the next file's run, which names it as the one it continues.
      expect(ends.at(-1)).toBeFalsy();
      expect(ends.slice(0, -1).map((e) => e?.newExecutionRunId)).toEqual(
        starts.slice(1).map((s) => s?.originalExecutionRunId),
      );
      expect(starts.slice(1).map((s) => s?.continuedExecutionRunId)).toEqual(
        starts.slice(0, -1).map((s) => s?.originalExecutionRunId),
      );
      expect(starts.every((s) => s?.originalExecutionRunId)).toBe(true);
      expect(new Set(runs.map((r) => r.workflowId)).size).toBe(1);
    }
  });

  it('has both executions of a batcher started again after it ended: one workflow ID, two chains, own keys', () => {
    const [first, again] = [
      'email-batcher.keyed-per-chain.first-execution.json',
      'email-batcher.keyed-per-chain.started-again.json',
    ].map((file) => histories.find((h) => h.file === file));
    expect(first && again).toBeDefined();
    expect(again!.workflowId).toBe(first!.workflowId);
    const starts = [first!, again!].map((h) => h.history.events?.[0]?.workflowExecutionStartedEventAttributes);
    // Two executions, neither continuing the other: the second starts a chain of its own.
    expect(starts.map((s) => s?.continuedExecutionRunId || undefined)).toEqual([undefined, undefined]);
    const chains = starts.map((s) => s?.originalExecutionRunId);
    expect(chains[0]).toBeTruthy();
    expect(chains[1]).not.toBe(chains[0]);
    expect(first!.history.events?.at(-1)?.workflowExecutionCompletedEventAttributes).toBeTruthy();
    // Every batch key names its own chain, so batch-1 of the second execution is not the first's batch-1.
    const keysOf = (h: typeof first) =>
      (h!.history.events ?? [])
        .map((e) => e.activityTaskScheduledEventAttributes?.input?.payloads?.[0])
        .filter((p) => p !== undefined && p !== null)
        .map((p) => defaultPayloadConverter.fromPayload<{ key?: string }>(p).key);
    expect(keysOf(first)).toEqual([
      `${first!.workflowId}:${chains[0]}:batch-1`,
      `${first!.workflowId}:${chains[0]}:batch-2`,
    ]);
    expect(keysOf(again)).toEqual([`${again!.workflowId}:${chains[1]}:batch-1`]);
  });

  it("has the bulk lane's parked paths: each patch, each operator decision, each end", () => {
    const pathOf = (h: (typeof histories)[number]) => {
      const events = h.history.events ?? [];
      const decode = (p: Parameters<typeof defaultPayloadConverter.fromPayload>[0] | null | undefined) =>
        p ? defaultPayloadConverter.fromPayload<Record<string, unknown>>(p) : {};
      const last = events.at(-1);
      return {
        patches: events
          .map((e) => e.markerRecordedEventAttributes?.details?.['patch-data']?.payloads?.[0])
          .filter((p) => p !== undefined && p !== null)
          .map((p) => decode(p).id),
        decisions: events
          .map((e) => e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input?.args?.payloads?.[0])
          .filter((p) => p !== undefined && p !== null)
          .map((p) => decode(p).action),
        activities: events.filter((e) => e.activityTaskScheduledEventAttributes).length,
        end: last?.workflowExecutionCompletedEventAttributes
          ? 'completed'
          : last?.workflowExecutionFailedEventAttributes
            ? `failed: ${last.workflowExecutionFailedEventAttributes.failure?.applicationFailureInfo?.type}`
            : 'open',
      };
    };
    const bulk = Object.fromEntries(
      histories.filter((h) => h.workflowType === 'sendInBulk').map((h) => [h.file.replace(/\.json$/, ''), pathOf(h)]),
    );
    const unknown = ['bulk-park-unknown', 'parked-at'];
    const unfinished = ['bulk-park-unfinished', ...unknown];
    expect(bulk).toEqual({
      'send-in-bulk.one-item-refused': { patches: [], decisions: [], activities: 1, end: 'completed' },
      'send-in-bulk.unknown-parked-then-retried': {
        patches: unknown,
        decisions: ['retry'],
        activities: 2,
        end: 'completed',
      },
      'send-in-bulk.unknown-parked-then-skipped': {
        patches: unknown,
        decisions: ['skip'],
        activities: 1,
        end: 'completed',
      },
      'send-in-bulk.unknown-parked-then-failed': {
        patches: unknown,
        decisions: ['fail'],
        activities: 1,
        end: 'failed: OperatorFailed',
      },
      // A retry past the budget is refused and parks again (one `parked-at` marker: a patch is recorded once).
      'send-in-bulk.budget-spent-parked-retry-refused-then-skipped': {
        patches: unfinished,
        decisions: ['retry', 'skip'],
        activities: 1,
        end: 'completed',
      },
      // The first chunk's activity spent the budget; the second chunk was never scheduled.
      'send-in-bulk.chunked-budget-spent-parked-then-failed': {
        patches: unfinished,
        decisions: ['fail'],
        activities: 1,
        end: 'failed: OperatorFailed',
      },
    });
  });

  it("finds a credential the recorder must not write, as it is or inside a payload's base64 data", () => {
    const secret = 'k3y-Of-The-Recording-Stack-0123456789';
    const payload = {
      metadata: { encoding: 'anNvbi9wbGFpbg==' },
      data: Buffer.from(`{"h":"${secret}"}`).toString('base64'),
    };
    expect(secretsIn({ events: [{ input: { payloads: [payload] } }] }, [secret, 'other-secret-value'])).toEqual([
      secret,
    ]);
    expect(secretsIn({ workflowId: `wf-${secret}` }, [secret])).toEqual([secret]);
    expect(secretsIn(histories[0]!, [secret])).toEqual([]);
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
