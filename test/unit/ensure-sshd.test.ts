import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureSshd, SshdUnavailableError } from '../../scripts/ensure-sshd';

describe('ensureSshd (the SFTP tests’ OpenSSH server, installed by their setup)', () => {
  let dir: string;
  let path: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'sshd-'));
    path = join(dir, 'sshd');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const noRun = () => {
    throw new Error('nothing may run');
  };

  it('answers the binary that is there and runs nothing', () => {
    writeFileSync(path, '');
    expect(ensureSshd({ path, env: {}, run: noRun })).toBe(path);
  });

  it('says exactly what to run when it is missing and this user is not root', () => {
    expect(() => ensureSshd({ path, env: {}, isRoot: false, run: noRun })).toThrow(SshdUnavailableError);
    expect(() => ensureSshd({ path, env: {}, isRoot: false, run: noRun })).toThrow(
      "sudo sh -c 'apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y openssh-server'",
    );
  });

  it('refuses to install over an SSHD_PATH that does not exist', () => {
    expect(() => ensureSshd({ env: { SSHD_PATH: path }, isRoot: true, run: noRun })).toThrow(
      `SSHD_PATH is ${path}, which does not exist`,
    );
  });

  it('installs openssh-server as root, refreshing the package lists once when the first install fails', () => {
    const calls: string[] = [];
    let installs = 0;
    const run = (command: string, args: string[]) => {
      calls.push([command, ...args].join(' '));
      if (command === 'sh') return { status: 0, output: '/usr/bin/apt-get' };
      if (args[0] === 'install' && ++installs === 2) writeFileSync(path, '');
      return { status: args[0] === 'install' && installs === 1 ? 100 : 0, output: '' };
    };
    expect(ensureSshd({ path, env: {}, isRoot: true, run })).toBe(path);
    expect(calls).toEqual([
      'sh -c command -v apt-get',
      'apt-get install -y -q openssh-server',
      'apt-get update -q',
      'apt-get install -y -q openssh-server',
    ]);
  });

  it('reports the end of apt’s output when the install fails', () => {
    const run = (command: string) =>
      command === 'sh'
        ? { status: 0, output: '' }
        : { status: 100, output: 'E: Unable to locate package openssh-server' };
    expect(() => ensureSshd({ path, env: {}, isRoot: true, run })).toThrow(
      'E: Unable to locate package openssh-server',
    );
  });
});
