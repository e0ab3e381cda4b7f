// Every workflow type the workers register. Names here are an API: renaming one breaks running
// executions and recorded histories.
export { awaitDocumentJob } from './await-document-job.workflow';
export { chargePayment } from './charge-payment.workflow';
export { emailBatcher } from './email-batcher.workflow';
export { exchangePayrollFile } from './exchange-payroll-file.workflow';
export { fulfillOrder } from './fulfill-order.workflow';
export { integrationControl } from '../control/integration-control.workflow';
export { processWebhookEvent } from './process-webhook-event.workflow';
export { sendInBulk } from './send-in-bulk.workflow';
export { resolveParkedInBulk } from './resolve-parked-in-bulk.workflow';
export { reportClientErrors, reportIntegrationClientErrors } from './report-client-errors.workflow';
export { syncCrmCustomers } from './sync-crm.workflow';
export { watchProviderStatus } from './watch-provider-status.workflow';
