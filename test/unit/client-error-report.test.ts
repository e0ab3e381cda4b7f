import { clientErrorReportId } from '../../src/contracts/reports';
import {
  endQuery,
  increaseAfter,
  responseCounts,
  stepSeconds,
  windowQuery,
  type SeriesPoints,
} from '../../src/observability/response-counts';
import { buildClientErrorReport, clientErrorMarkdown } from '../../src/workflows/client-error-report';

const start = 1_000; // epoch seconds of the window's start
const window = {
  integration: 'payments',
  period: 'daily' as const,
  startMs: start * 1000,
  endMs: (start + 86_400) * 1000,
};
const labels = (endpoint: string, status: string, outcome: string, instance = 'w1:9000') => ({
  __name__: 'integration_http_responses_total',
  integration: 'payments',
  endpoint,
  status,
  outcome,
  instance,
  job: 'workers',
});

describe('exact counter increases in a window', () => {
  it('counts what a series grew after the window started', () => {
    expect(
      increaseAfter(
        [
          [start - 300, '5'],
          [start + 300, '7'],
          [start + 600, '9'],
        ],
        start,
      ),
    ).toBe(4);
  });

  it('counts a series born in the window from 0 (prom-client creates it at its first answer, already at 1)', () => {
    expect(
      increaseAfter(
        [
          [start + 300, '1'],
          [start + 600, '3'],
        ],
        start,
      ),
    ).toBe(3);
  });

  it('counts a restarted worker’s new values whole', () => {
    expect(
      increaseAfter(
        [
          [start - 300, '10'],
          [start + 300, '12'],
          [start + 600, '2'],
          [start + 900, '4'],
        ],
        start,
      ),
    ).toBe(6);
  });

  it('counts nothing for a series that did not move', () => {
    expect(
      increaseAfter(
        [
          [start - 300, '8'],
          [start + 300, '8'],
        ],
        start,
      ),
    ).toBe(0);
  });

  it('sums the workers by endpoint, status and outcome, with the end value added to its series', () => {
    const windowSeries: SeriesPoints[] = [
      {
        labels: labels('createPayment', '422', 'RequestRejected'),
        points: [
          [start - 300, '2'],
          [start + 300, '3'],
        ],
      },
      { labels: labels('createPayment', '422', 'RequestRejected', 'w2:9000'), points: [[start + 300, '1']] },
      {
        labels: labels('createPayment', '200', 'ok'),
        points: [
          [start - 300, '100'],
          [start + 300, '150'],
        ],
      },
    ];
    // The instant query's answer carries no __name__ here: still the same series.
    const { __name__: _name, ...plain } = labels('createPayment', '422', 'RequestRejected');
    const end: SeriesPoints[] = [
      { labels: plain, points: [[start + 86_400, '6']] },
      { labels: labels('findPayment', '404', 'ok'), points: [[start + 86_400, '2']] },
    ];
    expect(responseCounts(windowSeries, end, start * 1000)).toEqual([
      { endpoint: 'createPayment', status: 200, outcome: 'ok', count: 50 },
      { endpoint: 'createPayment', status: 422, outcome: 'RequestRejected', count: 5 }, // 4 on w1, 1 on w2
      { endpoint: 'findPayment', status: 404, outcome: 'ok', count: 2 },
    ]);
  });

  it('reads a day in 5-minute steps from one step before the window, for the integration only', () => {
    expect(stepSeconds(window)).toBe(300);
    expect(windowQuery(window)).toBe('integration_http_responses_total{integration="payments"}[86700s:300s]');
    expect(endQuery(window)).toBe('integration_http_responses_total{integration="payments"}');
  });
});

describe('the 4xx report', () => {
  const counts = [
    { endpoint: 'createPayment', status: 200, outcome: 'ok', count: 90 },
    { endpoint: 'createPayment', status: 422, outcome: 'RequestRejected', count: 6 },
    { endpoint: 'createPayment', status: 409, outcome: 'RequestRejected', count: 1 },
    { endpoint: 'createPayment', status: 503, outcome: 'ServerError', count: 3 },
    { endpoint: 'findPayment', status: 200, outcome: 'ok', count: 8 },
    { endpoint: 'findPayment', status: 404, outcome: 'ok', count: 2 },
    { endpoint: 'refund', status: 401, outcome: 'Unauthorized', count: 2 },
  ];

  it('gives each endpoint its answers, its 4xx, their share and their statuses, the most 4xx first', () => {
    const report = buildClientErrorReport(window, { source: 'prometheus', url: 'http://prom:9090/', counts });
    expect(report).toMatchObject({ responses: 112, clientErrors: 11, source: 'prometheus' });
    expect(report.ratio).toBeCloseTo(11 / 112);
    expect(report.endpoints.map((e) => [e.endpoint, e.responses, e.clientErrors])).toEqual([
      ['createPayment', 100, 7],
      ['findPayment', 10, 2],
      ['refund', 2, 2],
    ]);
    expect(report.endpoints[0]?.ratio).toBeCloseTo(0.07);
    expect(report.endpoints[0]?.byStatus).toEqual([
      { status: 422, count: 6 },
      { status: 409, count: 1 },
    ]);
    expect(report.start).toBe(new Date(start * 1000).toISOString());
  });

  it('ranks the reasons by status and failure type (a 5xx is not one)', () => {
    const report = buildClientErrorReport(window, { source: 'prometheus', url: 'http://prom:9090/', counts });
    expect(report.topReasons).toEqual([
      { status: 422, outcome: 'RequestRejected', count: 6, endpoints: ['createPayment'] },
      { status: 401, outcome: 'Unauthorized', count: 2, endpoints: ['refund'] },
      { status: 404, outcome: 'ok', count: 2, endpoints: ['findPayment'] },
      { status: 409, outcome: 'RequestRejected', count: 1, endpoints: ['createPayment'] },
    ]);
    const markdown = clientErrorMarkdown(report);
    expect(markdown).toContain('**11** of 112 answers were 4xx (9.8 %)');
    expect(markdown).toContain('| createPayment | 100 | 7 | 7.0 % | 422: 6, 409: 1 |');
    expect(markdown).toContain('- 422 RequestRejected: 6 (createPayment)');
  });

  it('says clearly when no metrics source is configured, with no counts', () => {
    const reason = 'no metrics source configured: set PROMETHEUS_URL on the workers';
    const report = buildClientErrorReport(window, { source: 'none', reason });
    expect(report).toMatchObject({ source: 'none', note: reason, responses: 0, ratio: null, endpoints: [] });
    expect(clientErrorMarkdown(report)).toContain(`**No counts**: ${reason}`);
  });

  it('says so when no provider answered', () => {
    const report = buildClientErrorReport(window, { source: 'prometheus', url: 'http://prom:9090/', counts: [] });
    expect(report).toMatchObject({ ratio: null, note: 'no provider answered in this window' });
  });

  it('names each integration’s report by period, integration and the window’s end', () => {
    expect(clientErrorReportId('weekly', 'email', Date.UTC(2026, 11, 7))).toBe(
      'client-errors-weekly-email-2026-12-07T00:00:00Z',
    );
  });
});
