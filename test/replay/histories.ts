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

/**
 * Which of `secrets` a recorded history holds anywhere: in any string of its JSON, as it is or inside a
 * payload (whose data the JSON holds in base64). The recorder refuses to write a history that holds one.
 */
export function secretsIn(json: unknown, secrets: string[]): string[] {
  const found = new Set<string>();
  const visit = (value: unknown): void => {
    if (typeof value === 'string') {
      const decoded = Buffer.from(value, 'base64').toString('utf8');
      for (const secret of secrets) if (value.includes(secret) || decoded.includes(secret)) found.add(secret);
    } else if (Array.isArray(value)) value.forEach(visit);
    else if (value !== null && typeof value === 'object') Object.values(value).forEach(visit);
  };
  visit(json);
  return [...found];
}
