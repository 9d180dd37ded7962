import * as grpc from '@grpc/grpc-js';
import type { ControlServiceClient } from './generated/warren/v1/ControlService.js';
import type { WorkerServiceClient } from './generated/warren/v1/WorkerService.js';
import { controlProto, warrenProto } from './proto.js';

/** A ControlService client: `unix:PATH` (the manager's local socket) or HOST:PORT with TLS credentials. */
export function createControlClient(
  address: string,
  credentials: grpc.ChannelCredentials = grpc.credentials.createInsecure(),
  options: grpc.ChannelOptions = {},
): ControlServiceClient {
  return new (controlProto().ControlService)(address, credentials, options);
}

/** A WorkerService client (mutual TLS with the node's certificate; see pki/credentials.ts). */
export function createWorkerClient(
  address: string,
  credentials: grpc.ChannelCredentials = grpc.credentials.createInsecure(),
  options: grpc.ChannelOptions = {},
): WorkerServiceClient {
  return new (warrenProto().WorkerService)(address, credentials, {
    // Detect a dead manager on an idle connection, so the worker reconnects promptly.
    'grpc.keepalive_time_ms': 10_000,
    'grpc.keepalive_timeout_ms': 5_000,
    ...options,
  });
}

/** A generated client's unary method, as `unary` calls it. */
export type UnaryMethod<Req, Res> = (
  request: Req,
  metadata: grpc.Metadata,
  options: grpc.CallOptions,
  callback: grpc.requestCallback<Res>,
) => grpc.ClientUnaryCall;

export interface CallOptions {
  metadata?: grpc.Metadata;
  /** Milliseconds; default 10 s. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** Calls a unary method as a promise, with a deadline and an optional abort signal. */
export function unary<Req, Res>(
  method: UnaryMethod<Req, Res>,
  thisArg: grpc.Client,
  request: Req,
  options: CallOptions = {},
): Promise<Res> {
  options.signal?.throwIfAborted();
  return new Promise<Res>((resolve, reject) => {
    const deadline = Date.now() + (options.timeoutMs ?? 10_000);
    const call = method.call(thisArg, request, options.metadata ?? new grpc.Metadata(), { deadline }, (err, res) => {
      options.signal?.removeEventListener('abort', onAbort);
      if (err) reject(err);
      else resolve(res as Res);
    });
    const onAbort = (): void => call.cancel();
    options.signal?.addEventListener('abort', onAbort, { once: true });
  });
}
