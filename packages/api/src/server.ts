import { format } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { AddressInUseError, isDomainError, toServiceError } from './errors.js';

/**
 * Binds `address` (`host:port`, port 0 for any) and resolves with the port bound; rejects with
 * an AddressInUseError when the address is taken.
 */
export function bindServer(
  server: grpc.Server,
  address: string,
  credentials = grpc.ServerCredentials.createInsecure(),
): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(address, credentials, (err, port) => {
      if (!err) return resolve(port);
      // grpc-js reports the listen errors only as text: `No address added … errors: [listen EADDRINUSE: …]`.
      reject(err.message.includes('EADDRINUSE') ? new AddressInUseError(address, { cause: err }) : err);
    });
  });
}

/** What grpc-js's own log lines are written to: a pino logger, say. */
export interface GrpcLogSink {
  error(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

/**
 * Sends grpc-js's log lines (process-wide) to `sink` under `component: 'grpc'`, instead of raw
 * on stderr. A failed bind is only logged at debug: bindServer raises it as an error of its own.
 */
export function routeGrpcLogs(sink: GrpcLogSink): void {
  const component = { component: 'grpc' };
  grpc.setLogger({
    error: (message?: unknown, ...rest: unknown[]) => {
      const text = format(message, ...rest);
      if (text.startsWith('No address added')) sink.debug(component, text);
      else sink.error(component, text);
    },
    info: (message?: unknown, ...rest: unknown[]) => sink.info(component, format(message, ...rest)),
    debug: (message?: unknown, ...rest: unknown[]) => sink.debug(component, format(message, ...rest)),
  });
}

/** Stops accepting calls, lets running ones finish for up to `graceMs`, then cuts the rest. */
export async function shutdownServer(server: grpc.Server, graceMs = 2000): Promise<void> {
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, graceMs);
    server.tryShutdown(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

export interface ErrorLogger {
  error(obj: object, msg: string): void;
}

/**
 * Wraps an async handler as a grpc-js unary handler: domain errors become their status code,
 * anything else is logged and answered INTERNAL. A handler can never crash the daemon.
 */
export function unaryHandler<Req, Res>(
  name: string,
  logger: ErrorLogger,
  handler: (request: Req, call: grpc.ServerUnaryCall<Req, Res>) => Promise<Res>,
): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    handler(call.request, call).then(
      (res) => callback(null, res),
      (err: unknown) => {
        if (!isDomainError(err)) logger.error({ err, method: name }, 'request failed');
        callback(toServiceError(err));
      },
    );
  };
}
