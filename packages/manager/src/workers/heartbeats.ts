import type * as grpc from '@grpc/grpc-js';
import { callIdentity, toServiceError, unaryHandler, type Identity, type wire } from '@warren/api';
import type { AuthenticatedCall, WorkerDeps } from './worker-service.js';
import type { NodeRecord } from '../store/store.js';

type Beat = { nodeId: string; engineUnreachable: boolean; engineMessage: string };
/** The node a call speaks for: its certificate's, when it is `nodeId` and still in the cluster. */
export type Authenticate = (call: AuthenticatedCall, nodeId: string, known?: Identity) => NodeRecord;

/**
 * Heartbeats: how the manager knows a node is alive (DESIGN 4). A worker sends one each interval
 * on one stream (`Heartbeats`), authenticated when it opens: a call per beat would cost a new
 * HTTP/2 stream and a read of the peer's certificate every second for every node — with 1,000
 * nodes, most of an idle manager's CPU. Each beat is answered with the interval to keep; a beat
 * for another node, or from a node removed meanwhile, ends the stream. `Heartbeat` (one call per
 * beat) stays for workers that do not stream.
 */
export function heartbeatHandlers(
  deps: Pick<WorkerDeps, 'sessions' | 'onNodeChange' | 'logger'>,
  authenticate: Authenticate,
): Pick<wire.WorkerServiceHandlers, 'Heartbeat' | 'Heartbeats'> {
  const { sessions, logger } = deps;
  const beat = (req: Beat): { heartbeatIntervalMs: number } => {
    const wasReady = sessions.isReady(req.nodeId);
    sessions.heartbeat(req.nodeId, { ok: !req.engineUnreachable, message: req.engineMessage.slice(0, 300) });
    if (!wasReady && sessions.isReady(req.nodeId)) deps.onNodeChange();
    return { heartbeatIntervalMs: sessions.heartbeatIntervalMs };
  };

  return {
    Heartbeat: unaryHandler('Heartbeat', logger, async (req: Beat, call) => {
      authenticate(call, req.nodeId);
      return beat(req);
    }),

    Heartbeats: (call: grpc.ServerDuplexStream<Beat, wire.HeartbeatResponseOut>) => {
      const identity = callIdentity(call);
      let open = true;
      call.on('data', (req: Beat) => {
        if (!open) return;
        try {
          authenticate(call, req.nodeId, identity);
          call.write(beat(req));
        } catch (err) {
          open = false;
          call.emit('error', toServiceError(err));
        }
      });
      call.on('end', () => {
        open = false;
        call.end();
      });
      call.on('error', () => undefined);
    },
  };
}
