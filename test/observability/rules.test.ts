import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { ensurePrometheus } from '../../scripts/ensure-prometheus';

const dir = join(__dirname, '..', '..', 'observability');
const rules = parse(readFileSync(join(dir, 'alerts.rules.yml'), 'utf8')) as {
  groups: { name: string; rules: { alert?: string; annotations?: Record<string, string> }[] }[];
};
const alerts = rules.groups.flatMap((g) => g.rules).filter((r) => r.alert);

/** Runs promtool; its output is the failure message when it exits non-zero. */
function promtool(args: string[]): string {
  const { promtool: binary } = ensurePrometheus();
  try {
    return execFileSync(binary, args, { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    throw new Error(`promtool ${args.join(' ')} failed:\n${e.stdout ?? ''}${e.stderr ?? ''}`);
  }
}

describe('the alert rules (observability/alerts.rules.yml)', () => {
  // Installs Debian's prometheus package (with promtool) first when it is missing: minutes on a fresh machine.
  beforeAll(() => void ensurePrometheus(), 300_000);

  it('pass promtool check rules', () => {
    expect(promtool(['check', 'rules', 'alerts.rules.yml'])).toContain(`SUCCESS: ${alerts.length} rules found`);
  });

  it('pass their promtool unit tests (observability/alerts.test.yml)', () => {
    expect(promtool(['test', 'rules', 'alerts.test.yml'])).toContain('SUCCESS');
  });

  it('each have a summary and a runbook that says what to do', () => {
    for (const rule of alerts) {
      expect({ alert: rule.alert, summary: (rule.annotations?.summary?.length ?? 0) > 10 }).toEqual({
        alert: rule.alert,
        summary: true,
      });
      expect({ alert: rule.alert, runbook: (rule.annotations?.runbook?.length ?? 0) > 80 }).toEqual({
        alert: rule.alert,
        runbook: true,
      });
    }
  });

  it('cover every alert issue 11 asks for', () => {
    expect(alerts.map((r) => r.alert).sort()).toEqual(
      [
        'IntegrationBreakerOpen',
        'IntegrationServerErrorsHigh',
        'IntegrationCredentialsRejected',
        'IntegrationTokenRefreshFailing',
        'IntegrationBudgetAlerts',
        'IntegrationWorkflowsParked',
        'IntegrationParkedTooLong',
        'WebhookRejectionsSpiking',
        'IntegrationRateLimitQuotaLow',
        'IntegrationRateLimitedByProvider',
        'IntegrationCostOverBudget',
        'IntegrationClientCertificateExpiringSoon',
        'TemporalClientCertificateExpiringSoon',
        'SecretRotationOverdue',
        'IntegrationSchemaDrift',
      ].sort(),
    );
  });

  it('have a unit test for every alert', () => {
    const tests = readFileSync(join(dir, 'alerts.test.yml'), 'utf8');
    for (const rule of alerts)
      expect({ alert: rule.alert, tested: tests.includes(`alertname: ${rule.alert}`) }).toEqual({
        alert: rule.alert,
        tested: true,
      });
  });
});
