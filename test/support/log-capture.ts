import { Writable } from 'node:stream';
import { createLogger, type Logger } from '../../src/observability/logger';

/** A real pino logger (same redaction as production) whose lines are kept in memory for assertions. */
export function captureLogs(): { logger: Logger; lines: () => string[]; records: () => Record<string, unknown>[] } {
  const chunks: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk.toString('utf8'));
      done();
    },
  });
  const logger = createLogger({ name: 'capture', level: 'trace', destination });
  const lines = () => chunks.join('').split('\n').filter(Boolean);
  return { logger, lines, records: () => lines().map((l) => JSON.parse(l) as Record<string, unknown>) };
}
