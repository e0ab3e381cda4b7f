import { integrations } from '../../src/integrations';
import { FIXTURES_DIR, judge, loadFixtures } from '../../src/cli/drift-fixtures';

/**
 * Every recorded drift fixture (test/fixtures/drift/, made by `npm run drift -- fixtures` from real,
 * redacted answers) replayed against its endpoint's current response schema: a schema change is
 * checked against what providers really sent.
 */
const fixtures = loadFixtures(FIXTURES_DIR);

describe('drift fixtures replayed against the current schemas', () => {
  it('include at least one answer recorded from a drifting provider', () => {
    expect(fixtures.length).toBeGreaterThan(0);
  });

  it.each(fixtures.map(({ file, fixture }) => [file, fixture] as const))('%s', (file, fixture) => {
    const verdict = judge(integrations, fixture.integration, fixture.endpoint, fixture.body);
    const accept = `npm run drift -- fixtures --accept --integration ${fixture.integration}`;
    if (!verdict.known)
      throw new Error(`${file}: ${verdict.why}. Delete the fixture if the endpoint is gone on purpose.`);
    if (fixture.expect === 'fail' && verdict.pass)
      throw new Error(
        `${file}: recorded as failing ${fixture.integration}.${fixture.endpoint}'s schema, now accepted. If the schema was changed to accept this shape, run \`${accept}\` and commit the fixture; otherwise the schema lost a check.`,
      );
    if (fixture.expect === 'pass' && !verdict.pass)
      throw new Error(
        `${file}: the schema of ${fixture.integration}.${fixture.endpoint} now rejects a real answer it accepted (${verdict.issues.map((i) => `${i.path}: ${i.code}`).join('; ')}). Fix the schema, or if rejecting it is intended, run \`${accept}\`.`,
      );
    // Still failing: in the same places, or the fixture's recorded issues are out of date.
    expect({ file, issues: verdict.issues }).toEqual({ file, issues: fixture.issues });
  });
});
