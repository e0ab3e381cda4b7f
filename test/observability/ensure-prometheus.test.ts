import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PrometheusUnavailableError, ensurePrometheus } from '../../scripts/ensure-prometheus';

describe('ensurePrometheus (Prometheus and promtool for the tests)', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'prometheus-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const failure = (options: Parameters<typeof ensurePrometheus>[0]) => {
    try {
      ensurePrometheus({ log: () => undefined, ...options });
    } catch (err) {
      return err as Error;
    }
    throw new Error('expected a failure');
  };

  it('answers the binaries on PATH, with their version, and installs nothing', () => {
    for (const name of ['prometheus', 'promtool'])
      writeFileSync(join(dir, name), '#!/bin/sh\necho "prometheus, version 2.42.0+ds (branch: debian/sid)"\n', {
        mode: 0o755,
      });
    expect(ensurePrometheus({ env: { PATH: dir }, isRoot: false, hasApt: false })).toEqual({
      prometheus: join(dir, 'prometheus'),
      promtool: join(dir, 'promtool'),
      version: '2.42.0+ds',
      source: 'path',
    });
  });

  it('says how to install it when missing and this user is not root', () => {
    const error = failure({ env: { PATH: dir }, isRoot: false, hasApt: true });
    expect(error).toBeInstanceOf(PrometheusUnavailableError);
    expect(error.message).toContain('needs root');
    expect(error.message).toContain('apt-get install -y --no-install-recommends prometheus');
    expect(error.message).toContain('PROMETHEUS_PATH and PROMTOOL_PATH');
  });

  it('says so when there is no apt-get to install it with', () => {
    const error = failure({ env: { PATH: dir }, isRoot: true, hasApt: false });
    expect(error).toBeInstanceOf(PrometheusUnavailableError);
    expect(error.message).toContain('there is no apt-get here');
  });
});
