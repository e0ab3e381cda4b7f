// `npm run ops -- resolve|progress|cancel ...`: bulk resolution of parked workflows from the terminal.
import { IntegrationsClient } from '../client';
import {
  bulkResolveProgress,
  cancelBulkResolve,
  startBulkResolve,
  type BulkResolveProgress,
} from '../client/bulk-resolve';
import { temporalSettingsFromEnv } from '../temporal/settings';
import { OpsUsageError, parseOpsArgs } from './ops-args';

const POLL_MS = 2_000;

function line(id: string, p: BulkResolveProgress): string {
  return (
    `${id}: ${p.state}, ${p.processed}/${p.matched}${p.truncated ? '+' : ''} done: resolved ${p.resolved}, ` +
    `not parked ${p.notParked}, already decided ${p.alreadyDecided}, rejected ${p.rejected}, failed ${p.failed}`
  );
}

function samples(p: BulkResolveProgress): string[] {
  return [
    ...p.rejections.map((s) => `  rejected, e.g. ${s.workflowId}: ${s.reason}`),
    ...p.failures.map((s) => `  failed, e.g. ${s.workflowId}: ${s.reason}`),
  ];
}

async function main(): Promise<void> {
  let command;
  try {
    command = parseOpsArgs(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof OpsUsageError)) throw err;
    process.stderr.write(`${err.message}\n`);
    process.exit(2);
  }
  const settings = temporalSettingsFromEnv(process.env);
  const client = await IntegrationsClient.connect({ address: settings.address, namespace: settings.namespace });
  try {
    if (command.command === 'cancel') {
      await cancelBulkResolve(client.temporal, command.workflowId);
      process.stdout.write(
        `cancel requested: the window in flight finishes, nothing more is sent. Follow: npm run ops -- progress ${command.workflowId}\n`,
      );
      return;
    }
    if (command.command === 'progress') {
      const p = await bulkResolveProgress(client.temporal, command.workflowId);
      process.stdout.write([line(command.workflowId, p), ...samples(p)].join('\n') + '\n');
      return;
    }
    const id = await startBulkResolve(client.temporal, command.request);
    process.stdout.write(
      `started ${id}: ${command.request.decision.action} for running workflows matching ${command.request.query}\n`,
    );
    const hint = `follow: npm run ops -- progress ${id}\ncancel: npm run ops -- cancel ${id}\n`;
    if (!command.follow) {
      process.stdout.write(hint);
      return;
    }
    process.once('SIGINT', () => {
      process.stdout.write(`\nstill running (Ctrl-C stops only this terminal's view)\n${hint}`);
      process.exit(0);
    });
    for (;;) {
      const p = await bulkResolveProgress(client.temporal, id).catch(() => undefined);
      if (p) process.stdout.write(`${line(id, p)}\n`);
      if (p && (p.state === 'completed' || p.state === 'cancelled')) {
        const s = samples(p);
        if (s.length > 0) process.stdout.write(`${s.join('\n')}\n`);
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  } finally {
    await client.close();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
