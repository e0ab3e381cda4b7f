import { WorkflowFailedError } from '@temporalio/client';
import { IntegrationsClient } from '../client';
import { SandboxAdminClient, type FaultRule } from '../sandbox/admin-client';
import type { FulfillOrderInput } from '../workflows/fulfill-order.workflow';
import { orderWorkflowId, parkedState, resolveParked, type OrderStatus } from '../contracts/messages';

export interface DemoOptions {
  address: string;
  namespace: string;
  uiUrl?: string;
  sandboxUrl: string;
  say: (line: string) => void;
  /** Interactive runs leave the parked order for the operator; `--once` resolves it itself. */
  leaveParked: boolean;
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
  } finally {
    await client.close();
  }
  return allOk;
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
