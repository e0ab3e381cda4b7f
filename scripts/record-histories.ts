// `npm run record-histories`: runs every replay scenario on a fresh dev server and sandbox and writes
// each history to test/replay/histories/<scenario>.json, replacing what was there.
// `npm run record-histories -- <name-prefix> [...]` runs only the scenarios whose names start with one
// of the prefixes and replaces only their files: every other history stays as it is.
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { historyToJSON, type History } from '@temporalio/common/lib/proto-utils';
import { integrations } from '../src/integrations';
import { integrationVariables } from '../src/integrations/variables';
import { HISTORIES_DIR, secretsIn } from '../test/replay/histories';
import { REPLAY_STORE_URL, replayScenarios, type ReplayScenario } from '../test/replay/scenarios';
import { startTestStack, stopTestStack } from '../test/support/stack';
import { sandboxAdmin } from '../test/support/sandbox';
import { withWorkers } from '../test/support/temporal';

/** The scenarios the command line asks for: all of them without arguments. */
function selected(prefixes: string[]): ReplayScenario[] {
  if (prefixes.length === 0) return replayScenarios;
  const unmatched = prefixes.filter((p) => !replayScenarios.some((s) => s.name.startsWith(p)));
  if (unmatched.length > 0) {
    throw new Error(
      `no replay scenario starts with ${unmatched.map((p) => `"${p}"`).join(', ')}; there are:\n  ${replayScenarios
        .map((s) => s.name)
        .join('\n  ')}`,
    );
  }
  return replayScenarios.filter((s) => prefixes.some((p) => s.name.startsWith(p)));
}

/** The files a scenario wrote: `<name>.json`, or `<name>.<n>.json` for each run of a continued workflow. */
function filesOf(scenario: ReplayScenario): string[] {
  const runs = new RegExp(`^${scenario.name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.\\d+\\.json$`);
  return readdirSync(HISTORIES_DIR).filter((file) => file === `${scenario.name}.json` || runs.test(file));
}

/**
 * Every run of a workflow, oldest first: from its latest run back along continue-as-new (each run's
 * first event names the run it continues), so no run is missed while visibility catches up.
 */
async function runsOf(client: Client, workflowId: string) {
  const runs: History[] = [];
  for (let runId: string | undefined = undefined; ;) {
    const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
    runs.unshift(history);
    runId = history.events?.[0]?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId || undefined;
    if (!runId) return runs;
  }
}

/** The stack's secrets by variable: every credential the sandbox checks, and the webhook signing secret. */
function secretsOf(env: Record<string, string>): Map<string, string> {
  const names = [
    ...integrationVariables(integrations)
      .filter((v) => v.sandbox && 'credential' in v.sandbox)
      .map((v) => v.name),
    'WEBHOOK_DOCUMENTS_SECRETS',
  ];
  const secrets = new Map<string, string>();
  for (const name of names) {
    const value = env[name];
    if (typeof value !== 'string' || value.length < 16) continue;
    secrets.set(value, name);
    if (value.startsWith('whsec_')) secrets.set(value.slice('whsec_'.length), name);
  }
  return secrets;
}

async function main(): Promise<void> {
  const scenarios = selected(process.argv.slice(2));
  const stack = await startTestStack();
  const secrets = secretsOf(stack.env);
  Object.assign(process.env, stack.env);
  // The CRM sync's local store: a database of the recording's own (see REPLAY_STORE_URL).
  process.env.LOCAL_STORE_URL = REPLAY_STORE_URL;
  try {
    mkdirSync(HISTORIES_DIR, { recursive: true });
    await withWorkers(async ({ client }) => {
      for (const scenario of scenarios) {
        const ids = await scenario.run(client, `replay-${scenario.name}`);
        await sandboxAdmin.clearFaults();
        // Every run of every workflow the scenario touched (continue-as-new makes several).
        const runs: { workflowId: string; history: History }[] = [];
        for (const workflowId of ids) {
          for (const history of await runsOf(client, workflowId)) runs.push({ workflowId, history });
        }
        // Only this script's own recordings are replaced, and only once the scenario ran: `legacy.*`
        // histories, recorded by older code, stay to prove that executions started before a patched()
        // change still replay.
        const recorded = runs.map(({ workflowId, history }) => ({
          workflowId,
          history: JSON.parse(historyToJSON(history)) as unknown,
        }));
        // A history holding one of the stack's credentials is not written (names only, never values).
        const leaked = new Set(recorded.flatMap((json) => secretsIn(json, [...secrets.keys()])));
        if (leaked.size > 0)
          throw new Error(
            `${scenario.name}: its history holds ${[...leaked].map((s) => secrets.get(s)).join(', ')}; nothing written`,
          );
        for (const file of filesOf(scenario)) rmSync(join(HISTORIES_DIR, file));
        for (const [i, json] of recorded.entries()) {
          const { history } = runs[i]!;
          const file = join(HISTORIES_DIR, `${scenario.name}${runs.length > 1 ? `.${i + 1}` : ''}.json`);
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
