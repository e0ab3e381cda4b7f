import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { historyFromJSON, type History } from '@temporalio/common/lib/proto-utils';
import type { HistoryAndWorkflowId } from '@temporalio/common';

export const HISTORIES_DIR = join(__dirname, 'histories');

/** Every recorded history under test/replay/histories (file name = scenario). */
export function loadHistories(): (HistoryAndWorkflowId & { history: History; file: string; workflowType: string })[] {
  return readdirSync(HISTORIES_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((file) => {
      const json = JSON.parse(readFileSync(join(HISTORIES_DIR, file), 'utf8')) as {
        workflowId: string;
        history: unknown;
      };
      const history = historyFromJSON(json.history);
      const workflowType = history.events?.[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name ?? '';
      return { file, workflowId: json.workflowId, history, workflowType };
    });
}
