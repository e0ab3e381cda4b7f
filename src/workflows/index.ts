// Every workflow type the workers register. Names here are an API: renaming one breaks running
// executions and recorded histories.
export { chargePayment } from './charge-payment.workflow';
