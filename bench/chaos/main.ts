/**
 * The chaos matrix: `npm run chaos [-- --quick] [--case <name>[,<name>]] [--seed N] [--settle-ms N] [--out FILE]`.
 *
 * Starts its own stack (Temporal dev server as a child process on a SQLite file, the sandbox, two worker
 * processes; everything under .tmp/chaos-<pid>/), runs each fault class against real orders, and counts
 * broken promises from the sandbox ledger and Temporal: lost charges, duplicated effects, stranded orders.
 * Prints a table per case and a total, writes bench/results/chaos.json, and exits 1 unless
 * lost = duplicated = stranded = 0.
 */
import { parseArgs } from 'node:util';
import { runChaos, selectCases } from './runner';

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      case: { type: 'string', multiple: true },
      seed: { type: 'string' },
      'settle-ms': { type: 'string' },
      out: { type: 'string' },
      list: { type: 'boolean', default: false },
    },
  });
  if (values.list) {
    for (const c of selectCases(undefined)) console.log(`${c.name.padEnd(28)} ${c.title}`);
    return 0;
  }
  const cases = (values.case ?? []).flatMap((c) => c.split(',')).filter(Boolean);
  selectCases(cases); // an unknown name fails before anything starts
  const report = await runChaos({
    scale: values.quick ? 'quick' : 'full',
    cases,
    ...(values.seed !== undefined ? { seed: Number(values.seed) } : {}),
    ...(values['settle-ms'] !== undefined ? { settleMs: Number(values['settle-ms']) } : {}),
    ...(values.out !== undefined ? { resultsFile: values.out } : {}),
  });
  return report.ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
    process.exit(2);
  },
);
