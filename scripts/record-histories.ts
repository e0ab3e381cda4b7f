// `npm run record-histories`: runs every replay scenario on a fresh dev server and sandbox and writes
// each history to test/replay/histories/<scenario>.json, replacing what was there.
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { HISTORIES_DIR } from '../test/replay/histories';
import { replayScenarios } from '../test/replay/scenarios';
import { startTestStack, stopTestStack } from '../test/support/stack';
import { sandboxAdmin } from '../test/support/sandbox';
import { withWorkers } from '../test/support/temporal';

async function main(): Promise<void> {
  const stack = await startTestStack();
  Object.assign(process.env, stack.env);
  try {
    mkdirSync(HISTORIES_DIR, { recursive: true });
    // Only this script's own recordings are replaced: `legacy.*` histories, recorded by older code,
    // stay to prove that executions started before a patched() change still replay.
    for (const file of readdirSync(HISTORIES_DIR)) {
      if (
        replayScenarios.some(
          (s) => file === `${s.name}.json` || new RegExp(`^${s.name.replace(/\./g, '\\.')}\\.\\d+\\.json$`).test(file),
        )
      ) {
        rmSync(join(HISTORIES_DIR, file));
      }
    }
    await withWorkers(async ({ client }) => {
      for (const scenario of replayScenarios) {
        const ids = await scenario.run(client, `replay-${scenario.name}`);
        await sandboxAdmin.clearFaults();
        // Every run of every workflow the scenario touched (continue-as-new makes several).
        const runs: { workflowId: string; runId: string }[] = [];
        for (const workflowId of ids) {
          for await (const w of client.workflow.list({ query: `WorkflowId = '${workflowId}'` })) runs.push(w);
        }
        runs.reverse(); // oldest first
        for (const [i, run] of runs.entries()) {
          const history = await client.workflow.getHandle(run.workflowId, run.runId).fetchHistory();
          const file = join(HISTORIES_DIR, `${scenario.name}${runs.length > 1 ? `.${i + 1}` : ''}.json`);
          const json = { workflowId: run.workflowId, history: JSON.parse(historyToJSON(history)) as unknown };
          writeFileSync(file, `${JSON.stringify(json, null, 2)}\n`);
          console.log(`recorded ${file} (${history.events?.length ?? 0} events)`);
        }
      }
    });
  } finally {
    await stopTestStack(stack);
  }
}

main().catch((err: Error) => {
  console.error(err);
  process.exit(1);
});
