import { createHash } from 'node:crypto';
import { fileDropIntegrations, integrations } from '../../src/integrations';
import { defineIntegration, IntegrationDefinitionError } from '../../src/integrations/kit/define';
import { FailureType } from '../../src/integrations/kit/failures';
import { awaitFile, fileNameFor, sftp, upload } from '../../src/integrations/kit/file-drop';
import { env, secret } from '../../src/integrations/kit/refs';
import { classifySftpError, failWith } from '../../src/integrations/runtime/sftp/classify';
import { parseFingerprints, sha256Fingerprint } from '../../src/integrations/runtime/sftp/engine';
import { integrationVariables } from '../../src/integrations/variables';

const transport = sftp({
  host: env('X_SFTP_HOST', { description: 'h' }),
  username: env('X_SFTP_USER', { description: 'u' }),
  privateKey: secret('X_SFTP_KEY', { description: 'k' }),
  hostKey: env('X_SFTP_HOST_KEY', { description: 'f' }),
});
const base = { name: 'x', version: 'v1', purpose: 'p', owner: 'o', transport };

describe('file-drop declarations', () => {
  it('defineIntegration with an sftp transport gives a file-drop integration with derived activity names', () => {
    const x = defineIntegration({ ...base, endpoints: { send: upload('out/'), answer: awaitFile('in/') } });
    expect(x.kind).toBe('fileDrop');
    expect(x.activityName('send')).toBe('xSend');
    expect(x.profileOf('answer').name).toBe('background');
  });

  it.each([
    [{ ...base, name: 'Bad-Name', endpoints: { a: upload('out/') } }, 'name'],
    [{ ...base, endpoints: {} }, 'endpoints'],
    [{ ...base, endpoints: { a: upload('/abs/') } }, 'endpoints.a.dir'],
    [{ ...base, endpoints: { a: upload('../up/') } }, 'endpoints.a.dir'],
    [{ ...base, endpoints: { a: upload('out/', { extension: 'csv' }) } }, 'endpoints.a.extension'],
    [{ ...base, endpoints: { a: awaitFile('in/', { maxBytes: 0 }) } }, 'endpoints.a.maxBytes'],
    [{ ...base, transport: { ...transport, port: 70000 }, endpoints: { a: upload('o/') } }, 'transport.port'],
  ])('refuses a bad declaration, naming the field (%#)', (spec, field) => {
    expect(() => defineIntegration(spec)).toThrow(IntegrationDefinitionError);
    expect(() => defineIntegration(spec)).toThrow(`integration "${spec.name}": ${field}:`);
  });

  it('names a file after the key: deterministic, file-safe, and distinct for keys that differ only in unsafe characters', () => {
    const name = fileNameFor('payroll-file-2026-12:payroll-file', '.csv');
    expect(name).toBe(fileNameFor('payroll-file-2026-12:payroll-file', '.csv'));
    expect(name).toMatch(/^payroll-file-2026-12_payroll-file-[0-9a-f]{8}\.csv$/);
    expect(fileNameFor('a:b')).not.toBe(fileNameFor('a/b'));
    expect(fileNameFor('../../etc/passwd')).not.toMatch(/[/]|^\./);
  });

  it('derives the payroll variables (the private key with its _FILE form) when the file drops are given', () => {
    const names = integrationVariables(integrations, fileDropIntegrations).map((v) => `${v.name}:${v.kind}`);
    expect(names).toEqual(
      expect.arrayContaining([
        'PAYROLL_SFTP_HOST:value',
        'PAYROLL_SFTP_PORT:value',
        'PAYROLL_SFTP_USERNAME:value',
        'PAYROLL_SFTP_KEY:secret',
        'PAYROLL_SFTP_KEY_FILE:secretFile',
        'PAYROLL_SFTP_HOST_KEY:value',
      ]),
    );
    // The HTTP registry alone derives what it did before.
    expect(integrationVariables(integrations).some((v) => v.name.startsWith('PAYROLL_'))).toBe(false);
  });
});

describe('host-key fingerprints', () => {
  it('are SHA256:<base64 without padding> of the key blob, as ssh-keygen -l prints them', () => {
    const blob = Buffer.from('a host key blob');
    const expected = `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
    expect(sha256Fingerprint(blob)).toBe(expected);
    expect(parseFingerprints(` ${expected} , SHA256:short, md5:aa:bb`)).toEqual([expected]);
    expect(parseFingerprints('')).toEqual([]);
  });
});

describe('SFTP failure classification', () => {
  const cases: [string, unknown, Parameters<typeof classifySftpError>[1], boolean, FailureType, boolean][] = [
    ['host key refused', new Error('Handshake failed'), 'connect', true, FailureType.Misconfigured, false],
    [
      'key refused',
      new Error('All configured authentication methods failed'),
      'connect',
      false,
      FailureType.Unauthorized,
      false,
    ],
    [
      'connection refused',
      Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }),
      'connect',
      false,
      FailureType.NetworkError,
      true,
    ],
    [
      'no such file',
      Object.assign(new Error('No such file'), { code: 2 }),
      'check',
      false,
      FailureType.NotFound,
      false,
    ],
    [
      'permission denied',
      Object.assign(new Error('Permission denied'), { code: 3 }),
      'write',
      false,
      FailureType.RequestRejected,
      false,
    ],
    [
      'drop mid-upload',
      Object.assign(new Error('reset'), { code: 'ECONNRESET' }),
      'write',
      false,
      FailureType.OutcomeUnknown,
      true,
    ],
    ['drop before writing', new Error('Unexpected end event'), 'check', false, FailureType.NetworkError, true],
    ['drop while reading', new Error('Unexpected close event'), 'read', false, FailureType.Timeout, true],
  ];
  it.each(cases)('%s', (_what, err, phase, hostKeyRejected, type, retryable) => {
    const failure = classifySftpError(err, phase, hostKeyRejected);
    expect(failure.type).toBe(type);
    expect(failure.retryable).toBe(retryable);
  });

  it('keeps a failure the runtime already typed', () => {
    const typed = failWith(FailureType.ResponseTooLarge, 'too big', false);
    expect(classifySftpError(typed, 'read', false)).toEqual({
      type: FailureType.ResponseTooLarge,
      message: 'too big',
      retryable: false,
    });
  });
});
