import { defineIntegration } from '../kit/define';
import { awaitFile, sftp, upload } from '../kit/file-drop';
import { env, secret } from '../kit/refs';

/**
 * Payroll provider that exchanges files over SFTP, as payroll bureaus and banks do: we drop a payroll
 * file in `outbox/`, the bank answers with a file in `inbox/` named after ours (plus its own suffix,
 * e.g. `<ours>.ack.csv`), followed by a `.sha256` sidecar once it is complete.
 */
export const payroll = defineIntegration({
  name: 'payroll',
  version: 'v1',
  purpose: 'Send payroll files to the bank and collect its answer files (SFTP)',
  owner: 'finance-team',
  support: { contact: 'payroll-ops@payroll.example.com', escalation: '+49 30 901820 0' },
  transport: sftp({
    host: env('PAYROLL_SFTP_HOST', { description: 'Host name or address of the payroll SFTP server.' }),
    port: env('PAYROLL_SFTP_PORT', { description: 'TCP port of the payroll SFTP server (usually 22).' }),
    username: env('PAYROLL_SFTP_USERNAME', { description: 'SFTP user the payroll files are exchanged as.' }),
    privateKey: secret('PAYROLL_SFTP_KEY', {
      description: 'Private key (OpenSSH or PEM) the SFTP user authenticates with; prefer PAYROLL_SFTP_KEY_FILE.',
    }),
    hostKey: env('PAYROLL_SFTP_HOST_KEY', {
      description:
        'Pinned SHA-256 fingerprint of the server host key (SHA256:..., as ssh-keygen -lf prints it; comma-separated during a rotation).',
    }),
  }),
  endpoints: {
    uploadPayroll: upload('outbox/', {
      extension: '.csv',
      maxBytes: 5 * 1024 * 1024,
      description: 'One payroll run, named after the workflow step that sends it.',
    }),
    awaitAnswer: awaitFile('inbox/', {
      checksumSidecar: '.sha256',
      maxBytes: 1024 * 1024,
      interval: '30 seconds',
      description: "The bank's answer to a payroll file, once its .sha256 sidecar is there.",
    }),
  },
});
