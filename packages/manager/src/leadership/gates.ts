/**
 * What a manager that does not lead does with a call (DESIGN 9): workers are told where the
 * leader is (UNAVAILABLE, `warren-leader` in the trailers: they go there); the CLI's calls are
 * forwarded to the leader, so any manager answers them, with the caller's rights (the local
 * socket's owner, or a client certificate) sent along. The streams of events and endpoints are
 * served from the follower's own copy of the state. With no leader (an election, no quorum),
 * calls fail with why.
 */
import * as grpc from '@grpc/grpc-js';
import {
  TLS_CHANNEL_OPTIONS,
  channelCredentials,
  createControlClient,
  isNoLeader,
  noLeaderStatus,
  type CertificateSource,
  type wire,
} from '@warren/api';
import type { LeaderInfo } from './election.js';

/** Trailing metadata: where the leader serves (`host:port`). */
export const LEADER_METADATA = 'warren-leader';
/** Request metadata of a forwarded call: `local` (the socket's owner) or `client` (a client certificate). */
export const FORWARDED_METADATA = 'warren-forwarded';

export interface LeadershipView {
  readonly leading: boolean;
  readonly leader: LeaderInfo | undefined;
  /** Why no manager leads now ('' when one does). */
  readonly why: string;
}

/** The status a follower answers: UNAVAILABLE, saying who leads (or why none does). */
export function notLeader(view: LeadershipView): Partial<grpc.StatusObject> {
  const leader = view.leader;
  if (!leader) return noLeaderStatus(`no manager leads: ${view.why || 'an election is under way'}`);
  const metadata = new grpc.Metadata();
  metadata.set(LEADER_METADATA, leader.address);
  const details = `this manager does not lead: the leader is ${leader.id} at ${leader.address}`;
  return { code: grpc.status.UNAVAILABLE, details, metadata };
}

/** WorkerService answered only by the leader. */
export function leaderOnly<T extends object>(
  definition: grpc.ServiceDefinition,
  handlers: T,
  view: LeadershipView,
): T {
  const gated: Record<string, unknown> = {};
  for (const [method, attrs] of Object.entries(definition)) {
    const handler = (handlers as Record<string, (...args: unknown[]) => void>)[method];
    if (!handler) continue;
    // A call with a response stream is refused on it; the others (unary, client stream) by their callback.
    gated[method] = attrs.responseStream
      ? (call: grpc.ServerWritableStream<unknown, unknown>) => {
          if (view.leading) handler(call);
          else call.emit('error', notLeader(view));
        }
      : (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
          if (view.leading) handler(call, callback);
          else callback(notLeader(view));
        };
  }
  return gated as T;
}

/** Streams a follower serves from its own state. */
const SERVED_BY_FOLLOWERS: ReadonlySet<string> = new Set(['WatchEvents', 'WatchEndpoints']);
/** How long a forwarded call may take at the leader. */
const FORWARD_TIMEOUT_MS = 30_000;

/**
 * ControlService on every manager: the leader's handlers when it leads; on a follower, unary
 * calls go to the leader over mutual TLS with this manager's certificate.
 */
export function forwardingControl(
  definition: grpc.ServiceDefinition,
  handlers: wire.ControlServiceHandlers,
  view: LeadershipView,
  identity: CertificateSource,
  caller: 'local' | 'client',
): wire.ControlServiceHandlers {
  let client: { address: string; client: wire.ControlServiceClient } | undefined;
  const leaderClient = (address: string): wire.ControlServiceClient => {
    if (client?.address !== address) {
      client?.client.close();
      client = { address, client: createControlClient(address, channelCredentials(identity), TLS_CHANNEL_OPTIONS) };
    }
    return client.client;
  };
  const forwarded: Record<string, unknown> = {};
  for (const [method, attrs] of Object.entries(definition)) {
    const handler = (handlers as Record<string, (...args: unknown[]) => void>)[method];
    if (!handler) continue;
    if (attrs.responseStream) {
      forwarded[method] = (call: grpc.ServerWritableStream<unknown, unknown>) => {
        if (view.leading || SERVED_BY_FOLLOWERS.has(method)) handler(call);
        else call.emit('error', notLeader(view));
      };
      continue;
    }
    forwarded[method] = (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      if (view.leading) return handler(call, callback);
      const leader = view.leader;
      if (!leader) return callback(notLeader(view));
      const metadata = new grpc.Metadata();
      metadata.set(FORWARDED_METADATA, caller);
      const target = leaderClient(leader.address) as unknown as Record<
        string,
        (req: unknown, md: grpc.Metadata, o: grpc.CallOptions, cb: grpc.requestCallback<unknown>) => void
      >;
      target[method]!.call(
        client!.client,
        call.request,
        metadata,
        { deadline: new Date(Date.now() + FORWARD_TIMEOUT_MS) },
        (err: grpc.ServiceError | null, res: unknown) => {
          if (!err) return callback(null, res);
          // The leader could not be reached (it may have just gone: a successor comes within a lease).
          if (err.code === grpc.status.UNAVAILABLE && !err.metadata?.get(LEADER_METADATA).length && !isNoLeader(err)) {
            return callback(
              noLeaderStatus(`the leader ${leader.id} at ${leader.address} does not answer: ${err.details}`),
            );
          }
          callback({ code: err.code, details: err.details, metadata: err.metadata });
        },
      );
    };
  }
  return forwarded as wire.ControlServiceHandlers;
}
