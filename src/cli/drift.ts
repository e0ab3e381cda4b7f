// `npm run drift -- list [--integration x] [--json]`: drift samples per endpoint (DRIFT_SAMPLES_DIR).
// `npm run drift -- fixtures [--integration x] [--accept] [--out dir]`: samples -> test/fixtures/drift/.
import { configSchema } from '../config/config';
import { integrations } from '../integrations';
import { FileDriftStore } from '../integrations/runtime/drift-store';
import { FIXTURES_DIR, summarize, writeFixtures } from './drift-fixtures';

const usage = `usage:
  npm run drift -- list [--integration <name>] [--json]
      drift samples per integration, endpoint and source (schema, dark_launch), newest first
  npm run drift -- fixtures [--integration <name>] [--accept] [--out <dir>]
      a fixture per new sample under ${FIXTURES_DIR}/<integration>/<endpoint>/, with the current
      schema's verdict; --accept re-judges the existing fixtures too (after a schema change that
      accepts the drifted shape on purpose)
samples are read from DRIFT_SAMPLES_DIR (default .data/drift-samples) or --samples <dir>`;

function option(args: string[], name: string): string | undefined {
  const at = args.indexOf(name);
  if (at < 0) return undefined;
  const value = args[at + 1];
  if (!value || value.startsWith('--')) fail(`${name} needs a value`);
  return value;
}

function fail(message: string): never {
  process.stderr.write(`${message}\n\n${usage}\n`);
  process.exit(2);
}

async function main(args: string[]): Promise<void> {
  const [command] = args;
  if (command !== 'list' && command !== 'fixtures') fail(command ? `unknown command "${command}"` : 'no command');
  const known = new Set(['--integration', '--json', '--accept', '--out', '--samples']);
  const unknown = args.slice(1).filter((a) => a.startsWith('--') && !known.has(a));
  if (unknown.length > 0) fail(`unknown option ${unknown.join(', ')}`);
  const integration = option(args, '--integration');
  if (integration && !(integration in integrations))
    fail(`no integration "${integration}"; declared: ${Object.keys(integrations).join(', ')}`);
  const dir =
    option(args, '--samples') ?? configSchema.shape.DRIFT_SAMPLES_DIR.parse(process.env.DRIFT_SAMPLES_DIR || undefined);
  const samples = await new FileDriftStore({ dir }).list({ integration });

  if (command === 'list') {
    const rows = summarize(samples);
    if (args.includes('--json')) return void process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
    if (rows.length === 0) return void process.stdout.write(`no drift samples in ${dir}\n`);
    for (const r of rows)
      process.stdout.write(
        `${r.integration}.${r.endpoint}  ${r.source}  ${r.samples} sample(s), newest ${r.newest}\n    ${r.paths.join(', ')}\n`,
      );
    process.stdout.write(`samples in ${dir}; make fixtures: npm run drift -- fixtures\n`);
    return;
  }

  const result = writeFixtures(samples, {
    registry: integrations,
    dir: option(args, '--out') ?? FIXTURES_DIR,
    integration,
    accept: args.includes('--accept'),
  });
  for (const file of result.written) process.stdout.write(`written   ${file}\n`);
  for (const file of result.accepted) process.stdout.write(`accepted  ${file}\n`);
  for (const why of result.skipped) process.stdout.write(`skipped   ${why}\n`);
  process.stdout.write(
    `${result.written.length} written, ${result.accepted.length} re-judged, ${result.unchanged.length} already fixtures, ${result.skipped.length} skipped (from ${samples.length} samples in ${dir}); replay: npx jest test/unit/drift-fixtures.test.ts\n`,
  );
}

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
