// `npm run record-histories`: runs every replay scenario on a fresh dev server and sandbox and writes
// each history to test/replay/histories/<scenario>.json, replacing what was there.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { HISTORIES_DIR } from '../test/replay/histories';
import { replayScenarios } from '../test/replay/scenarios';
import { startTestStack, stopTestStack } from '../test/support/stack';
import { withWorkers } from '../test/support/temporal';

async function main(): Promise<void> {
  const stack = await startTestStack();
  Object.assign(process.env, stack.env);
  try {
    mkdirSync(HISTORIES_DIR, { recursive: true });
    await withWorkers(async ({ client }) => {
      for (const scenario of replayScenarios) {
        const workflowId = `replay-${scenario.name}`;
        await scenario.run(client, workflowId);
        const history = await client.workflow.getHandle(workflowId).fetchHistory();
        const file = join(HISTORIES_DIR, `${scenario.name}.json`);
        writeFileSync(
          file,
          `${JSON.stringify({ workflowId, history: JSON.parse(historyToJSON(history)) as unknown }, null, 2)}\n`,
        );
        console.log(`recorded ${file} (${history.events?.length ?? 0} events)`);
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
