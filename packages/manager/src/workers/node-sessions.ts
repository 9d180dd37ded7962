import type * as grpc from '@grpc/grpc-js';
import type { wire } from '@warren/api';

type AssignmentStream = grpc.ServerWritableStream<unknown, wire.AssignmentsMessage>;

interface Session {
  stream: AssignmentStream | undefined;
  lastSeenAt: number;
  engineOk: boolean;
  engineMessage: string;
}

/**
 * The workers connected right now: their assignment streams, last heartbeats and whether they
 * reach their Docker engine. In memory only: after a manager restart nodes are unknown until
 * their workers reconnect.
 * - `isReady`: stream open and no more than `missedHeartbeats` beats missed: tasks may go there
 * - `isAlive`: no more than `missedHeartbeats` beats missed, stream or not (a worker restarting
 *   quickly is not a node going down)
 */
export class NodeSessions {
  readonly #sessions = new Map<string, Session>();

  constructor(
    private readonly now: () => number,
    readonly heartbeatIntervalMs: number,
    readonly missedHeartbeats = 3,
  ) {}

  /** Makes `stream` the node's stream. A previous stream (a worker that restarted) is ended. */
  attach(nodeId: string, stream: AssignmentStream): void {
    const previous = this.#sessions.get(nodeId);
    this.#sessions.set(nodeId, {
      stream,
      lastSeenAt: this.now(),
      engineOk: previous?.engineOk ?? true,
      engineMessage: previous?.engineMessage ?? '',
    });
    if (previous?.stream && previous.stream !== stream) previous.stream.end();
  }

  /** Closes the node's stream if `stream` is still the current one. Returns whether it was. */
  detach(nodeId: string, stream: AssignmentStream): boolean {
    const session = this.#sessions.get(nodeId);
    if (session?.stream !== stream) return false;
    session.stream = undefined;
    return true;
  }

  heartbeat(nodeId: string, engine?: { ok: boolean; message: string }): void {
    const session = this.#sessions.get(nodeId) ?? {
      stream: undefined,
      lastSeenAt: 0,
      engineOk: true,
      engineMessage: '',
    };
    session.lastSeenAt = this.now();
    if (engine) {
      session.engineOk = engine.ok;
      session.engineMessage = engine.message;
    }
    this.#sessions.set(nodeId, session);
  }

  isAlive(nodeId: string): boolean {
    const session = this.#sessions.get(nodeId);
    return (
      session !== undefined && this.now() - session.lastSeenAt <= this.heartbeatIntervalMs * this.missedHeartbeats
    );
  }

  isReady(nodeId: string): boolean {
    return this.#sessions.get(nodeId)?.stream !== undefined && this.isAlive(nodeId);
  }

  engine(nodeId: string): { ok: boolean; message: string } {
    const session = this.#sessions.get(nodeId);
    return { ok: session?.engineOk ?? true, message: session?.engineMessage ?? '' };
  }

  /** Nodes with an open assignment stream. */
  get connected(): number {
    return [...this.#sessions.values()].filter((s) => s.stream).length;
  }

  lastSeenAt(nodeId: string): number | undefined {
    return this.#sessions.get(nodeId)?.lastSeenAt;
  }

  /** Nodes with an open assignment stream, by id. */
  connectedIds(): string[] {
    return [...this.#sessions].filter(([, s]) => s.stream).map(([id]) => id);
  }

  send(nodeId: string, message: wire.AssignmentsMessage): void {
    this.#sessions.get(nodeId)?.stream?.write(message);
  }

  /** Sends `message` to every connected worker. */
  broadcast(message: wire.AssignmentsMessage): void {
    for (const { stream } of this.#sessions.values()) stream?.write(message);
  }

  /** Forgets a node removed from the cluster: its stream ends with `error`, it is neither ready nor alive. */
  revoke(nodeId: string, error: Partial<grpc.StatusObject>): void {
    const session = this.#sessions.get(nodeId);
    this.#sessions.delete(nodeId);
    session?.stream?.emit('error', error);
  }

  /** Ends every stream (manager shutdown). */
  closeAll(): void {
    for (const { stream } of this.#sessions.values()) stream?.end();
    this.#sessions.clear();
  }
}
