// `npm run schedules`: creates or updates the 4xx report's Schedules (client-errors-daily, client-errors-weekly).
// `npm run schedules -- --trigger daily|weekly`: and runs that report now (the window ends now).
import { Client } from '@temporalio/client';
import { loadConfig } from '../config/config';
import { clientErrorScheduleId, reportPeriods, type ReportPeriod } from '../contracts/reports';
import { connectClient, temporalSettings } from '../temporal/connection';
import { ensureReportSchedules } from '../workers/report-schedules';

async function main(): Promise<void> {
  const config = loadConfig();
  const at = process.argv.indexOf('--trigger');
  const trigger = at >= 0 ? process.argv[at + 1] : undefined;
  if (at >= 0 && !reportPeriods.includes(trigger as ReportPeriod)) {
    throw new Error(`--trigger takes ${reportPeriods.join(' or ')}, e.g. npm run schedules -- --trigger daily`);
  }
  const connection = await connectClient(temporalSettings(config));
  try {
    const client = new Client({ connection, namespace: config.TEMPORAL_NAMESPACE });
    for (const { scheduleId, action } of await ensureReportSchedules(client))
      process.stdout.write(`${scheduleId}: ${action}\n`);
    if (trigger) {
      await client.schedule.getHandle(clientErrorScheduleId(trigger as ReportPeriod)).trigger();
      process.stdout.write(
        `${clientErrorScheduleId(trigger as ReportPeriod)}: triggered; find the reports in the UI with WorkflowType = 'reportIntegrationClientErrors'\n`,
      );
    }
  } finally {
    await connection.close();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
