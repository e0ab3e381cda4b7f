import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { runChaos } from '../../bench/chaos/runner';
import { TMP_DIR } from '../support/stack';

// The quick chaos matrix (bench/chaos, `npm run chaos -- --quick`) through the same runner code, on a
// stack of its own (it kills its Temporal server, so not the global setup's): every fault class with a
// few orders. The promise: no charge lost, no effect applied twice, no order left neither closed nor parked.

describe('the quick chaos matrix', () => {
  it(
    'loses no charge, duplicates no effect and strands no order',
    async () => {
      const dir = join(TMP_DIR, `chaos-${process.pid}`);
      const report = await runChaos({
        scale: 'quick',
        dir,
        resultsFile: join(dir, 'chaos.json'),
        log: (line) => process.stdout.write(`${line}\n`),
      });

      expect(report.cases.filter((c) => c.error).map((c) => `${c.name}: ${c.error}`)).toEqual([]);
      // Each broken promise with its order, so a failure says where to look (histories under `dir`/problems).
      const broken = report.cases.flatMap((c) =>
        c.problems
          .filter((p) => p.lost || p.duplicated || p.stranded)
          .map(
            (p) =>
              `${c.name}: ${p.workflowId} [${p.label}] ${p.final}` +
              `${p.lost ? ' LOST' : ''}${p.duplicated ? ` DUPLICATED ${p.duplicateKeys.join(',')}` : ''}` +
              `${p.stranded ? ' STRANDED' : ''}`,
          ),
      );
      expect(broken).toEqual([]);
      const { lost, duplicated, stranded } = report.total;
      expect({ lost, duplicated, stranded }).toEqual({ lost: 0, duplicated: 0, stranded: 0 });
      expect(report.total.orders).toBeGreaterThan(0);
      // Kept when something broke: the logs and problem histories are the evidence.
      rmSync(dir, { recursive: true, force: true });
    },
    20 * 60_000,
  );
});
