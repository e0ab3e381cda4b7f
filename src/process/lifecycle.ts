/**
 * The life of one of this project's server processes (sandbox, webhook receiver, codec server): start
 * it, and on SIGTERM or SIGINT close it (in-flight requests finish) and exit 0; a second signal exits at
 * once. A failure to start is written to stderr (the logger may not exist yet, e.g. with a bad config)
 * and exits 1.
 */
export function runServer(name: string, start: () => Promise<{ close(): Promise<void> }>): void {
  start().then(
    (server) => {
      let stopping = false;
      const stop = (signal: NodeJS.Signals): void => {
        if (stopping) process.exit(1); // a second signal means "now"
        stopping = true;
        process.stderr.write(`${name} stopping (${signal})\n`);
        server.close().then(
          () => process.exit(0),
          () => process.exit(1),
        );
      };
      process.on('SIGTERM', stop);
      process.on('SIGINT', stop);
    },
    (err: unknown) => {
      process.stderr.write(`${name} failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
