import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  TEMPORAL_CLI_VERSION,
  TemporalCliNotFoundError,
  cachedCliPath,
  resolveTemporalCli,
} from '../../src/devserver/temporal-cli';

/** A fake `temporal` that answers --version like the real one. */
function fakeCli(dir: string, versionLine = 'temporal version 0.0.0-DEV (Server 1.29.1, UI 2.42.1)'): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'temporal');
  writeFileSync(path, `#!/bin/sh\necho "${versionLine}"\n`);
  chmodSync(path, 0o755);
  return path;
}

describe('resolveTemporalCli', () => {
  let scratch: string;
  beforeEach(() => {
    scratch = mkdtempSync(join(tmpdir(), 'cli-resolve-'));
  });

  it('uses TEMPORAL_CLI_PATH before anything else', async () => {
    const explicit = fakeCli(join(scratch, 'explicit'), 'temporal version 9.9.9');
    fakeCli(join(scratch, 'bin'));
    const cli = await resolveTemporalCli({ env: { TEMPORAL_CLI_PATH: explicit, PATH: join(scratch, 'bin') } });
    expect(cli).toEqual({ path: explicit, source: 'env', version: 'temporal version 9.9.9' });
  });

  it('refuses a TEMPORAL_CLI_PATH that does not run, saying what to do', async () => {
    await expect(
      resolveTemporalCli({ env: { TEMPORAL_CLI_PATH: join(scratch, 'missing'), PATH: '' } }),
    ).rejects.toThrow(/is not a working Temporal CLI.*unset it/s);
  });

  it('finds temporal on PATH', async () => {
    const onPath = fakeCli(join(scratch, 'bin'));
    const cli = await resolveTemporalCli({ env: { PATH: join(scratch, 'bin'), XDG_CACHE_HOME: scratch } });
    expect(cli.source).toBe('path');
    expect(cli.path).toBe(onPath);
  });

  it('uses the cached build and reports the pinned version', async () => {
    const env = { PATH: '', XDG_CACHE_HOME: scratch };
    const cached = cachedCliPath(env);
    fakeCli(join(cached, '..'));
    const cli = await resolveTemporalCli({ env });
    expect(cli).toEqual({
      path: cached,
      source: 'cache',
      version: `temporal version ${TEMPORAL_CLI_VERSION.slice(1)} (Server 1.29.1, UI 2.42.1)`,
    });
  });

  it('without Go, a binary or a cache, names each way it tried and how to provide the binary', async () => {
    const error = await resolveTemporalCli({ env: { PATH: join(scratch, 'empty'), XDG_CACHE_HOME: scratch } }).catch(
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(TemporalCliNotFoundError);
    const message = (error as Error).message;
    expect(message).toContain('TEMPORAL_CLI_PATH: not set');
    expect(message).toContain('PATH: no `temporal` binary');
    expect(message).toContain(`cache: nothing at ${cachedCliPath({ XDG_CACHE_HOME: scratch })}`);
    expect(message).toContain('go install: no `go` on PATH');
    expect(message).toContain('set TEMPORAL_CLI_PATH to a `temporal` binary');
    expect(message).toContain('npm run temporal:install');
  });
});
