import { textTable } from '../integrations/catalog';
import { percent } from './rules';
import type { StatusReport } from './status';

/** The live status as a plain-text table for `npm run catalog` (the same data as the page). */
export function statusTable(report: StatusReport): string {
  const rows: string[][] = [
    [
      'integration',
      'status',
      'breaker',
      'kill switches',
      'parked',
      'errors 5m',
      'last incident',
      'owner',
      'support',
      'escalation',
    ],
  ];
  for (const i of report.integrations) {
    rows.push([
      `${i.name} ${i.version}`,
      i.health,
      i.breaker ? (i.breaker.forced ? `forced ${i.breaker.forced}` : i.breaker.position) : '?',
      i.breaker ? i.killSwitches.map((s) => (s === '*' ? 'all' : s)).join(',') || 'none' : '?',
      i.parked === null ? '?' : String(i.parked),
      i.errorRate === null ? '?' : percent(i.errorRate),
      i.lastIncident ? i.lastIncident.at.slice(0, 19).replace('T', ' ') : 'none',
      i.owner,
      i.support?.contact ?? '-',
      i.support?.escalation ?? '-',
    ]);
  }
  const lines = textTable(rows);
  const details = report.integrations.flatMap((i) => [
    `${i.name}: ${i.health}${i.reasons.length ? ` (${i.reasons.join('; ')})` : ''}`,
    ...(i.lastIncident ? [`  last incident ${i.lastIncident.at}: ${i.lastIncident.why}`] : []),
    ...(i.providerIncident ? [`  provider status: ${i.providerIncident.status}: ${i.providerIncident.title}`] : []),
    `  parked: ${i.links.parked}`,
  ]);
  return [
    `Live status at ${report.generatedAt} (Temporal namespace ${report.temporal.namespace}; error rate: ${report.errorRateSource})`,
    '',
    ...lines,
    '',
    ...details,
    '',
    `Rule: ${report.rule}`,
  ].join('\n');
}
