import { pino, type Logger } from 'pino';

/** JSON logs on stdout, one line each; read them with pino-pretty. Level from WARREN_LOG_LEVEL. */
export function createLogger(): Logger {
  return pino({ level: process.env.WARREN_LOG_LEVEL ?? 'info', base: { pid: process.pid } });
}

/**
 * Waits for SIGINT or SIGTERM, then runs `stop` (a graceful shutdown). A second signal, or a
 * shutdown that takes longer than `graceMs`, ends the process at once.
 */
export function runUntilSignal(logger: Logger, stop: () => Promise<void>, graceMs = 15_000): Promise<void> {
  return new Promise((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (stopping) {
        logger.warn({ signal }, 'second signal: exiting now');
        process.exit(130);
      }
      stopping = true;
      logger.info({ signal }, 'shutting down');
      const timer = setTimeout(() => {
        logger.error('shutdown took too long: exiting now');
        process.exit(1);
      }, graceMs);
      timer.unref();
      stop().then(
        () => {
          clearTimeout(timer);
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
          resolve();
        },
        (err: unknown) => {
          logger.error({ err }, 'shutdown failed');
          process.exit(1);
        },
      );
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}
