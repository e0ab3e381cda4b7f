import { WorkflowFailedError } from '@temporalio/client';
import { IntegrationsClient } from '../client';

export interface DemoOptions {
  address: string;
  namespace: string;
  uiUrl?: string;
  sandboxUrl: string;
  say: (line: string) => void;
}

interface Scenario {
  title: string;
  /** Provider misbehaviour to set up in the sandbox before the run. */
  fault?: { method: string; path: string; fault: string; params?: Record<string, unknown>; times?: number };
  run: (client: IntegrationsClient, orderId: string) => Promise<{ workflowId: string; runId: string; detail: string }>;
}

function charge(amount: number): Scenario['run'] {
  return async (client, orderId) => {
    const handle = await client.startChargePayment({ orderId, amount, currency: 'EUR' });
    const payment = await handle.result();
    return {
      workflowId: handle.workflowId,
      runId: handle.firstExecutionRunId,
      detail: `payment ${payment.id} ${payment.status}`,
    };
  };
}

const scenarios: Scenario[] = [
  {
    title: 'charge a payment',
    run: charge(4200),
  },
  {
    title: 'charge while the provider answers 503 once (Temporal retries the activity)',
    fault: { method: 'POST', path: '/payments/payments', fault: 'status', params: { code: 503 }, times: 1 },
    run: charge(1999),
  },
];

/** Runs each demo scenario against the live stack; prints its outcome and where to see it in the UI. */
export async function runDemo(options: DemoOptions): Promise<boolean> {
  const client = await IntegrationsClient.connect({ address: options.address, namespace: options.namespace });
  const batch = Date.now().toString(36);
  let allOk = true;
  try {
    for (const [i, scenario] of scenarios.entries()) {
      if (scenario.fault) await setFault(options.sandboxUrl, scenario.fault);
      const orderId = `demo-${batch}-${i + 1}`;
      try {
        const { workflowId, runId, detail } = await scenario.run(client, orderId);
        options.say(`  ok    ${scenario.title}: ${detail}`);
        options.say(`        ${workflowLink(options, workflowId, runId)}`);
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

function workflowLink(options: DemoOptions, workflowId: string, runId: string): string {
  if (!options.uiUrl) return `workflow ${workflowId} (run ${runId})`;
  return `${options.uiUrl}/namespaces/${options.namespace}/workflows/${encodeURIComponent(workflowId)}/${runId}/history`;
}

async function setFault(sandboxUrl: string, fault: NonNullable<Scenario['fault']>): Promise<void> {
  const res = await fetch(`${sandboxUrl}/admin/faults`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(fault),
  });
  if (!res.ok) throw new Error(`sandbox refused the fault ${JSON.stringify(fault)}: ${res.status}`);
}
