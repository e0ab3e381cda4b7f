import { createHash } from 'node:crypto';
import { WorkflowFailedError, type Client } from '@temporalio/client';
import { IntegrationsClient } from '../client';
import { SandboxAdminClient, type FaultRule } from '../sandbox/admin-client';
import type { FulfillOrderInput } from '../workflows/fulfill-order.workflow';
import {
  orderWorkflowId,
  parkedState,
  payrollFileWorkflowId,
  resolveParked,
  type OrderStatus,
} from '../contracts/messages';
import { WORKFLOWS_TASK_QUEUE } from '../contracts/task-queues';
import type { SftpServer } from '../devserver/sftp-server';
import { fileNameFor } from '../integrations/kit/file-drop';
import type { exchangePayrollFile } from '../workflows/exchange-payroll-file.workflow';

export interface DemoOptions {
  address: string;
  namespace: string;
  uiUrl?: string;
  sandboxUrl: string;
  say: (line: string) => void;
  /** Interactive runs leave the parked order for the operator; `--once` resolves it itself. */
  leaveParked: boolean;
  /** The bank's SFTP server, when the stack runs one: the demo then also exchanges a payroll file. */
  bank?: SftpServer;
}

interface Scenario {
  title: string;
  /** Provider misbehaviour set up in the sandbox before the order starts. */
  faults?: FaultRule[];
  order?: Partial<FulfillOrderInput>;
  /** The stage the order must end in for the scenario to count as a success. */
  expect: OrderStatus['stage'];
  /** The order parks: what the operator (or `--once`) does about it. */
  parks?: boolean;
}

const scenarios: Scenario[] = [
  { title: 'order: charge, invoice (webhook or poll), email, CRM', expect: 'completed' },
  {
    title: 'order whose charge answer is lost (504 after applying): found by lookup, not charged twice',
    faults: [{ method: 'POST', path: '/payments/payments', fault: 'commit-then-504', params: { ms: 10 }, times: 2 }],
    expect: 'completed',
  },
  {
    title: 'order whose invoice email is rejected (422): CRM note restored, payment refunded',
    faults: [{ method: 'POST', path: '/email/send', fault: 'status', params: { code: 422 }, times: 1 }],
    expect: 'compensated',
  },
  {
    title: 'order whose email credentials are rejected (401): parked for an operator',
    faults: [{ method: 'POST', path: '/email/send', fault: 'status', params: { code: 401 } }],
    expect: 'completed',
    parks: true,
  },
];

/** Runs each demo scenario against the live stack; prints its outcome and where to see it in the UI. */
export async function runDemo(options: DemoOptions): Promise<boolean> {
  const client = await IntegrationsClient.connect({ address: options.address, namespace: options.namespace });
  const sandbox = new SandboxAdminClient(options.sandboxUrl);
  const batch = Date.now().toString(36);
  let allOk = true;
  try {
    for (const [i, scenario] of scenarios.entries()) {
      await sandbox.clearFaults();
      for (const fault of scenario.faults ?? []) await sandbox.fault(fault);
      const orderId = `demo-${batch}-${i + 1}`;
      const link = workflowLink(options, orderWorkflowId(orderId));
      try {
        const started = Date.now();
        const { charge } = await client.startOrder({
          orderId,
          customerId: `cus_00${10 + i}`,
          amount: 1000 + i,
          currency: 'EUR',
          ...scenario.order,
        });
        const chargeMs = Date.now() - started;
        if (scenario.parks) {
          const handle = client.temporal.workflow.getHandle(orderWorkflowId(orderId));
          const parked = await waitUntilParked(handle);
          options.say(`  PARKED ${scenario.title}`);
          options.say(`         ${parked}; ${link}`);
          const resolve = `temporal workflow update execute --workflow-id ${orderWorkflowId(orderId)} --name resolveParked --input '{"action":"retry"}'`;
          if (options.leaveParked) {
            options.say(`         Fix it, then resolve it in the UI or with: ${resolve}`);
            options.say(
              `         (the email fault stays on until you clear it: curl -X DELETE ${options.sandboxUrl}/admin/faults)`,
            );
            continue;
          }
          await sandbox.clearFaults(); // the operator fixed the credentials...
          await handle.executeUpdate(resolveParked, { args: [{ action: 'retry' }] }); // ...and retried
          options.say(`         resolved as an operator would: ${resolve}`);
        }
        const result = await client.orderResult(orderId);
        const ok = result.stage === scenario.expect;
        allOk &&= ok;
        const detail = `charge answered in ${chargeMs} ms (${charge.charged ? charge.paymentId : charge.failure}); order ${result.stage}`;
        options.say(
          `  ${ok ? 'ok    ' : 'FAIL  '}${scenario.title}: ${detail}${result.compensated ? ` [undone: ${result.compensated.join(', ')}]` : ''}`,
        );
        options.say(`        ${link}`);
      } catch (err) {
        allOk = false;
        const cause = err instanceof WorkflowFailedError ? (err.cause?.message ?? err.message) : (err as Error).message;
        options.say(`  FAIL  ${scenario.title}: ${cause}`);
      }
    }
    if (options.bank) allOk = (await payrollExchange(client.temporal, options, `demo-${batch}`, options.bank)) && allOk;
  } finally {
    await client.close();
  }
  return allOk;
}

/**
 * The payroll file exchange over SFTP: the workflow uploads a payroll file to the bank's outbox (exactly
 * once, under a name derived from its ID), the demo plays the bank and drops an answer file (with its
 * `.sha256` sidecar last) in the inbox, and the workflow collects it.
 */
async function payrollExchange(
  client: Client,
  options: DemoOptions,
  payrollId: string,
  bank: SftpServer,
): Promise<boolean> {
  const title = 'payroll file over SFTP: uploaded once, the bank answer file collected';
  const workflowId = payrollFileWorkflowId(payrollId);
  try {
    const content = Buffer.from('employee_ref,amount_cents\nE-1001,420000\nE-1002,385000\n');
    const handle = await client.workflow.start<typeof exchangePayrollFile>('exchangePayrollFile', {
      taskQueue: WORKFLOWS_TASK_QUEUE,
      workflowId,
      args: [{ payrollId, contentBase64: content.toString('base64'), answerDeadline: '2 minutes' }],
    });
    // The bank's side: once the request file is in its outbox, it answers in the inbox.
    const key = `${workflowId}:payroll-file`;
    const requestName = fileNameFor(key, '.csv');
    const deadline = Date.now() + 60_000;
    while (!bank.files('outbox').includes(requestName)) {
      if (Date.now() > deadline) throw new Error(`${requestName} did not reach the bank's outbox within a minute`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const answer = Buffer.from('status,accepted\nE-1001,ok\nE-1002,ok\n');
    const answerName = `${fileNameFor(key)}.ack.csv`;
    bank.write('inbox', answerName, answer);
    bank.write('inbox', `${answerName}.sha256`, createHash('sha256').update(answer).digest('hex'));
    const result = await handle.result();
    const delivered = bank.files('outbox').filter((f) => !f.startsWith('.'));
    const ok = delivered.length === 1 && result.answer.path.endsWith(answerName);
    options.say(
      `  ${ok ? 'ok    ' : 'FAIL  '}${title}: ${result.request.path} (${delivered.length} file in the outbox), answer ${result.answer.path}`,
    );
    options.say(`        ${workflowLink(options, workflowId)}`);
    return ok;
  } catch (err) {
    const cause = err instanceof WorkflowFailedError ? (err.cause?.message ?? err.message) : (err as Error).message;
    options.say(`  FAIL  ${title}: ${cause}`);
    return false;
  }
}

async function waitUntilParked(
  handle: ReturnType<IntegrationsClient['temporal']['workflow']['getHandle']>,
): Promise<string> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const info = await handle.query(parkedState);
    if (info) return `${info.integration}.${info.endpoint} failed with ${info.failureType}: ${info.lastError}`;
    if (Date.now() > deadline) throw new Error('the order did not park within a minute');
    await new Promise((r) => setTimeout(r, 200));
  }
}

function workflowLink(options: DemoOptions, workflowId: string): string {
  if (!options.uiUrl) return `workflow ${workflowId}`;
  return `${options.uiUrl}/namespaces/${options.namespace}/workflows/${encodeURIComponent(workflowId)}`;
}
