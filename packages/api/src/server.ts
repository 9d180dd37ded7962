import * as grpc from '@grpc/grpc-js';
import { isDomainError, toServiceError } from './errors.js';

/** Binds `address` (`host:port`, port 0 for any) and resolves with the port bound. */
export function bindServer(server: grpc.Server, address: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port)));
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
