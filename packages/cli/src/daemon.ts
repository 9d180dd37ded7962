import { pino, type Logger } from 'pino';
import { ValidationError } from '@warren/core';
import { addressInUse, routeGrpcLogs } from '@warren/api';
import { CliError } from './errors.js';

/**
 * JSON logs on stdout, one line each; read them with pino-pretty. Level from WARREN_LOG_LEVEL.
 * grpc-js's own log lines join them (component `grpc`) instead of going raw to stderr.
 */
export function createLogger(): Logger {
  const logger = pino({ level: process.env.WARREN_LOG_LEVEL ?? 'info', base: { pid: process.pid } });
  routeGrpcLogs(logger);
  routeProcessWarnings(logger);
  guardStartup(logger);
  return logger;
}

/**
 * Node's process warnings go to the log, one structured line each (component `node`), instead of
 * raw text on stderr. DEP0123 is left out: grpc-js gives a TLS server name that is an IP address
 * when a manager reaches etcd by IP (`etcd://10.0.0.1:2379`), and Node warns; the member's
 * certificate is still checked against that address.
 */
function routeProcessWarnings(logger: Logger): void {
  const log = logger.child({ component: 'node' });
  process.removeAllListeners('warning');
  process.on('warning', (warning: Error & { code?: string }) => {
    if (warning.code === 'DEP0123') return;
    log.warn({ name: warning.name, code: warning.code }, warning.message);
  });
}

/** Until `runUntilSignal` takes over: a signal while a daemon is starting ends it at once, and says so. */
let duringStartup: ((signal: NodeJS.Signals) => void) | undefined;

function guardStartup(logger: Logger): void {
  if (duringStartup) return;
  duringStartup = (signal) => {
    logger.warn({ signal }, 'interrupted while starting: exiting');
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.on('SIGINT', duringStartup);
  process.on('SIGTERM', duringStartup);
}

/**
 * Runs `start`, which starts daemons on the addresses their flags gave (`{ '--listen': '…' }`)
 * and stops what it started before it throws. Two flags asking for the same port are refused
 * before anything starts (exit 2); an address in use becomes one line naming it and its flag.
 */
export async function startOn<T>(flags: Readonly<Record<string, string>>, start: () => Promise<T>): Promise<T> {
  const entries = Object.entries(flags);
  for (const [i, [flag, address]] of entries.entries()) {
    const first = entries.slice(0, i).find(([, other]) => other === address && !address.endsWith(':0'));
    if (first) throw new ValidationError(flag, address, `${first[0]} already asks for it; give each its own port`);
  }
  try {
    return await start();
  } catch (err) {
    const address = addressInUse(err);
    if (address === undefined) throw err;
    const flag = entries.find(([, given]) => given === address)?.[0];
    const running = 'another warren may be running';
    if (flag === undefined) throw new CliError(`${address} is already in use: ${running}`, 1);
    throw new CliError(`${address} is already in use (${flag}): ${running}; choose another with ${flag}`, 1);
  }
}

/**
 * Waits for SIGINT or SIGTERM, then runs `stop` (a graceful shutdown). A second signal, or a
 * shutdown that takes longer than `graceMs`, ends the process at once; so does anything left
 * holding the process `lingerMs` after a shutdown that completed (a bug: it is logged, exit 1).
 */
export function runUntilSignal(
  logger: Logger,
  stop: () => Promise<void>,
  graceMs = 15_000,
  lingerMs = 5000,
): Promise<void> {
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
          exitIfStillRunning(logger, lingerMs);
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
    if (duringStartup) {
      process.off('SIGINT', duringStartup);
      process.off('SIGTERM', duringStartup);
      duringStartup = undefined;
    }
  });
}

/**
 * After a shutdown that completed, nothing should keep the process: a timer or socket that does
 * would leave a stopped daemon running forever. Names what is left, then exits.
 */
function exitIfStillRunning(logger: Logger, lingerMs: number): void {
  const timer = setTimeout(() => {
    // This timer is one of the Timeouts listed.
    const resources = process.getActiveResourcesInfo();
    logger.error({ resources, lingerMs }, 'still running after the shutdown completed: exiting');
    process.exit(1);
  }, lingerMs);
  timer.unref();
}
