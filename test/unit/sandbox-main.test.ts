import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { join } from 'node:path';
import { waitFor } from '../support/wait';

const root = join(__dirname, '..', '..');
const matching = (pattern: RegExp): unknown => expect.stringMatching(pattern);
const secrets = {
  SANDBOX_PAYMENTS_CLIENT_ID: 'main-test-client-id',
  SANDBOX_PAYMENTS_CLIENT_SECRET: 'main-test-client-secret',
  SANDBOX_EMAIL_API_KEY: 'main-test-email-key',
};

function startMain(): { child: ChildProcessWithoutNullStreams; out: () => string; err: () => string } {
  const env: NodeJS.ProcessEnv = { ...process.env, ...secrets, SANDBOX_PORT: '0' };
  for (const name of [
    'SANDBOX_DOCUMENTS_API_KEY',
    'SANDBOX_CRM_API_KEY',
    'SANDBOX_INVENTORY_API_KEY',
    'SANDBOX_WEBHOOK_SECRET',
    'SANDBOX_WEBHOOK_TARGET',
  ]) {
    delete env[name];
  }
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/sandbox/main.ts'], { cwd: root, env });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
  child.stderr.on('data', (d: Buffer) => (err += d.toString('utf8')));
  return { child, out: () => out, err: () => err };
}

describe('sandbox process (src/sandbox/main.ts)', () => {
  it('announces its URL as one JSON line, serves requests, never prints secrets and exits 0 on SIGTERM', async () => {
    const { child, out, err } = startMain();
    try {
      await waitFor('the ready line', () => out().includes('\n'), 20_000);
      const lines = out().trim().split('\n');
      expect(lines).toHaveLength(1);
      const ready = JSON.parse(lines[0] ?? '') as { event: string; url: string };
      expect(ready).toEqual({ event: 'sandbox.listening', url: matching(/^http:\/\/127\.0\.0\.1:\d+$/) });
      // stderr is a separate pipe: its line may arrive after stdout's.
      await waitFor('the human-readable line', () => err().includes(`Sandbox listening on ${ready.url}`), 5_000);

      const token = await fetch(`${ready.url}/payments/oauth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: `grant_type=client_credentials&client_id=${secrets.SANDBOX_PAYMENTS_CLIENT_ID}&client_secret=${secrets.SANDBOX_PAYMENTS_CLIENT_SECRET}`,
      });
      expect(token.status).toBe(200);

      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      for (const secret of Object.values(secrets)) {
        expect(out()).not.toContain(secret);
        expect(err()).not.toContain(secret);
      }
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  }, 30_000);
});
