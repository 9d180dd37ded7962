import type * as grpc from '@grpc/grpc-js';
import type { wire } from '@warren/api';

type AssignmentStream = grpc.ServerWritableStream<unknown, wire.AssignmentsMessage>;

interface Session {
  stream: AssignmentStream;
  lastSeenAt: number;
}

/**
 * The workers connected right now: their assignment streams and last heartbeats. In memory
 * only: after a manager restart every node is down until its worker reconnects.
 * A node is ready while its stream is open and it has not missed `missedHeartbeats` beats.
 */
export class NodeSessions {
  readonly #sessions = new Map<string, Session>();

  constructor(
    private readonly now: () => number,
    readonly heartbeatIntervalMs: number,
    private readonly missedHeartbeats = 3,
  ) {}

  /** Makes `stream` the node's stream. A previous stream (a worker that restarted) is ended. */
  attach(nodeId: string, stream: AssignmentStream): void {
    const previous = this.#sessions.get(nodeId);
    this.#sessions.set(nodeId, { stream, lastSeenAt: this.now() });
    if (previous && previous.stream !== stream) previous.stream.end();
  }

  /** Forgets the node's session if `stream` is still the current one. Returns whether it was. */
  detach(nodeId: string, stream: AssignmentStream): boolean {
    if (this.#sessions.get(nodeId)?.stream !== stream) return false;
    this.#sessions.delete(nodeId);
    return true;
  }

  heartbeat(nodeId: string): void {
    const session = this.#sessions.get(nodeId);
    if (session) session.lastSeenAt = this.now();
  }

  isReady(nodeId: string): boolean {
    const session = this.#sessions.get(nodeId);
    return session !== undefined && this.now() - session.lastSeenAt <= this.heartbeatIntervalMs * this.missedHeartbeats;
  }

  /** Nodes with an open assignment stream. */
  get connected(): number {
    return this.#sessions.size;
  }

  lastSeenAt(nodeId: string): number | undefined {
    return this.#sessions.get(nodeId)?.lastSeenAt;
  }

  send(nodeId: string, message: wire.AssignmentsMessage): void {
    this.#sessions.get(nodeId)?.stream.write(message);
  }

  /** Ends every stream (manager shutdown). */
  closeAll(): void {
    for (const { stream } of this.#sessions.values()) stream.end();
    this.#sessions.clear();
  }
}
