import { loadConfig } from '../config/config';
import { runServer } from '../process/lifecycle';
import { startStatus } from './start';

/**
 * Process entry: `npm run status`. Prints one JSON line on stdout once listening (`status.listening`, with
 * the page's URL); SIGTERM/SIGINT close it. Its "resolve all parked" form starts `resolveParkedInBulk`;
 * provider incidents come from the control workflows (what `watchProviderStatus` told them).
 */
runServer('Status page', async () => {
  const config = loadConfig();
  const server = await startStatus(config);
  process.stdout.write(`${JSON.stringify({ event: 'status.listening', url: server.url })}\n`);
  return server;
});
