import { statusFromSummary } from '../../src/activities/provider-status.activities';
import { incidentNote } from '../../src/contracts/provider-status';
import { defineIntegration, IntegrationDefinitionError } from '../../src/integrations/kit/define';
import { env } from '../../src/integrations/kit/refs';
import { payments } from '../../src/integrations/payments/payments.integration';
import { integrationVariables } from '../../src/integrations/variables';

const now = new Date('2026-12-01T12:00:00.000Z');

/** A Statuspage summary.json as providers publish it (trimmed to what matters, plus fields we ignore). */
function summary(incidents: object[], indicator = 'major', maintenances: object[] = []) {
  return {
    page: { id: 'x', name: 'Provider', url: 'https://status.example.com', updated_at: now.toISOString() },
    status: { indicator, description: 'Partial System Outage' },
    components: [{ id: 'c1', name: 'API', status: 'partial_outage' }],
    incidents,
    scheduled_maintenances: maintenances,
  };
}
const incident = (over: object = {}) => ({
  id: 'inc-1',
  name: 'Elevated error rates',
  status: 'investigating',
  impact: 'major',
  created_at: '2026-12-01T11:00:00.000Z',
  shortlink: 'https://stspg.io/abc',
  components: [{ id: 'c1', name: 'API' }],
  incident_updates: [{ body: 'We are looking into it' }],
  ...over,
});

describe('reading a Statuspage summary', () => {
  it('keeps the open incidents touching the declared components', () => {
    const status = statusFromSummary(
      summary([
        incident(),
        incident({ id: 'inc-2', components: [{ id: 'c2', name: 'Dashboard' }] }),
        incident({ id: 'inc-3', status: 'resolved' }),
        incident({ id: 'inc-4', status: 'postmortem' }),
        incident({ id: 'inc-5', components: [] }),
      ]),
      ['API'],
      now,
    );
    expect(status).toEqual({
      indicator: 'major',
      description: 'Partial System Outage',
      checkedAt: now.toISOString(),
      incidents: [
        {
          id: 'inc-1',
          name: 'Elevated error rates',
          status: 'investigating',
          impact: 'major',
          startedAt: '2026-12-01T11:00:00.000Z',
          url: 'https://stspg.io/abc',
        },
        expect.objectContaining({ id: 'inc-5' }),
      ],
    });
  });

  it('counts every incident when no component is declared, and reads odd values safely', () => {
    const status = statusFromSummary(
      summary(
        [
          incident({
            components: [{ id: 'c2', name: 'Dashboard' }],
            impact: 'apocalyptic',
            shortlink: 'javascript:alert(1)',
          }),
        ],
        'purple',
      ),
      undefined,
      now,
    );
    expect(status.indicator).toBe('unknown');
    expect(status.incidents).toEqual([expect.objectContaining({ id: 'inc-1', impact: 'none' })]);
    expect(status.incidents[0]).not.toHaveProperty('url');
  });

  it('says maintenance while one is in progress and nothing else is wrong', () => {
    expect(statusFromSummary(summary([], 'none', [{ status: 'in_progress' }]), undefined, now).indicator).toBe(
      'maintenance',
    );
    expect(statusFromSummary(summary([], 'none', [{ status: 'scheduled' }]), undefined, now).indicator).toBe('none');
  });

  it('refuses what is not a summary, naming the field', () => {
    expect(() => statusFromSummary({ hello: 'world' }, undefined, now)).toThrow(
      /not a Statuspage summary\.json \(status: /,
    );
    expect(() => statusFromSummary('<html>', undefined, now)).toThrow(/not a Statuspage summary\.json/);
  });

  it('puts an incident in one line for people', () => {
    const status = statusFromSummary(summary([incident(), incident({ id: 'inc-2' })]), undefined, now);
    expect(incidentNote(status)).toBe(
      'provider reports an incident since 2026-12-01T11:00:00.000Z: Elevated error rates (major, investigating) https://stspg.io/abc (+1 more)',
    );
    expect(incidentNote({ ...status, incidents: [] })).toBeUndefined();
    expect(incidentNote(undefined)).toBeUndefined();
  });
});

describe('declaring a status page', () => {
  const declare = (statusPage: object) => () =>
    defineIntegration({ ...payments, name: 'withpage', statusPage: statusPage as never });

  it('is a configuration variable like the base URL, bound to the sandbox', () => {
    const variable = integrationVariables({ payments }).find((v) => v.name === 'PAYMENTS_STATUS_URL');
    expect(variable).toMatchObject({ kind: 'url', sandbox: { path: 'status/payments/api/v2/summary.json' } });
  });

  it('refuses a bad declaration, naming the field', () => {
    expect(declare({ url: 'https://status.example.com' })).toThrow(IntegrationDefinitionError);
    expect(declare({ url: 'https://status.example.com' })).toThrow(/statusPage\.url: the variable/);
    expect(declare({ url: env('X_STATUS_URL'), pollEvery: '1 second' })).toThrow(
      /statusPage\.pollEvery: poll a status page every 5 seconds/,
    );
    expect(declare({ url: env('X_STATUS_URL'), pollEvery: 'soon' })).toThrow(
      /statusPage\.pollEvery: expected a duration/,
    );
    expect(declare({ url: env('X_STATUS_URL'), components: [''] })).toThrow(/statusPage\.components/);
    expect(declare({ url: env('X_STATUS_URL'), components: ['API'], pollEvery: '30 seconds' })).not.toThrow();
  });
});
