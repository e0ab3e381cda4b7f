// Test-only workflows, bundled by the webhook tests for their own worker (never by the real workers).
import { condition, setHandler } from '@temporalio/workflow';
import { documentJobFinished, type DocumentJobResult } from '../../src/contracts/messages';

/** Stands in for the document-job workflow: waits for `documentJobFinished` and returns what it got. */
export async function awaitDocumentJob(): Promise<DocumentJobResult> {
  let received: DocumentJobResult | undefined;
  setHandler(documentJobFinished, (result) => {
    received ??= result;
  });
  await condition(() => received !== undefined);
  return received as DocumentJobResult;
}
