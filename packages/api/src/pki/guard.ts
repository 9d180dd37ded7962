/**
 * A gate in front of every method of a gRPC service: `check` runs before the handler and a
 * refusal (any thrown error) is answered with its status, the handler never called.
 */
import * as grpc from '@grpc/grpc-js';
import { toServiceError } from '../errors.js';

/** What a check sees of a call: its peer and its verified certificate (grpc-js's ServerSurfaceCall). */
export type GuardedCall = grpc.ServerUnaryCall<unknown, unknown>;
export type CallCheck = (call: GuardedCall, method: string) => void;

export function guardService<T extends object>(definition: grpc.ServiceDefinition, handlers: T, check: CallCheck): T {
  const guarded: Record<string, unknown> = {};
  for (const [method, attrs] of Object.entries(definition)) {
    const handler = (handlers as Record<string, (...args: unknown[]) => void>)[method];
    if (!handler) continue;
    const refused = (call: GuardedCall): Partial<grpc.StatusObject> | undefined => {
      try {
        check(call, method);
        return undefined;
      } catch (err) {
        return toServiceError(err);
      }
    };
    guarded[method] = attrs.responseStream
      ? (call: grpc.ServerWritableStream<unknown, unknown>) => {
          const err = refused(call as unknown as GuardedCall);
          if (err) call.emit('error', err);
          else handler(call);
        }
      : (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
          const err = refused(call);
          if (err) callback(err);
          else handler(call, callback);
        };
  }
  return guarded as T;
}
