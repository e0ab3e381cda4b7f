import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ChromiumUnavailableError, ensureChromium } from '../../scripts/ensure-chromium';

describe('ensureChromium (the browser test’s Chromium, installed by the test setup)', () => {
  let dir: string;
  let path: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'chromium-'));
    path = join(dir, 'chromium');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const noRun = () => {
    throw new Error('nothing may run');
  };

  it('answers the binary that is there and runs nothing', () => {
    writeFileSync(path, '');
    expect(ensureChromium({ path, env: {}, run: noRun })).toBe(path);
  });

  it('says exactly what to run when it is missing and this user is not root', () => {
    const error = (() => {
      try {
        ensureChromium({ path, env: {}, isRoot: false, run: noRun });
      } catch (err) {
        return err as Error;
      }
    })();
    expect(error).toBeInstanceOf(ChromiumUnavailableError);
    expect(error?.message).toContain(
      "sudo sh -c 'apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium'",
    );
  });

  it('refuses to install over a CHROMIUM_PATH that does not exist', () => {
    expect(() => ensureChromium({ env: { CHROMIUM_PATH: path }, isRoot: true, run: noRun })).toThrow(
      `CHROMIUM_PATH is ${path}, which does not exist`,
    );
  });

  it('says so when there is no apt-get to install with', () => {
    const run = () => ({ status: 1, output: '' });
    expect(() => ensureChromium({ path, env: {}, isRoot: true, run })).toThrow(/no apt-get here/);
  });

  it('installs with apt-get, refreshing the package lists once when the first install fails', () => {
    const calls: string[] = [];
    let installs = 0;
    const run = (command: string, args: string[]) => {
      calls.push([command, ...args].join(' '));
      if (command === 'apt-get' && args[0] === 'install' && ++installs === 2) writeFileSync(path, '');
      return { status: command === 'apt-get' && args[0] === 'install' && installs === 1 ? 100 : 0, output: '' };
    };
    expect(ensureChromium({ path, env: {}, isRoot: true, run })).toBe(path);
    expect(calls).toEqual([
      'sh -c command -v apt-get',
      'apt-get install -y -q chromium',
      'apt-get update -q',
      'apt-get install -y -q chromium',
    ]);
  });

  it('reports the end of apt’s output and the command to run when the install fails', () => {
    const run = (command: string, args: string[]) =>
      command === 'sh' ? { status: 0, output: '' } : { status: 100, output: `E: ${args[0]} went wrong\n` };
    expect(() => ensureChromium({ path, env: {}, isRoot: true, run })).toThrow(
      /failed at `apt-get update`:\nE: update went wrong\nRun `apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium` as root/,
    );
  });
});
