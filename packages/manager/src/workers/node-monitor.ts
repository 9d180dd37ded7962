import type { Logger } from 'pino';
import type { NodeSessions } from './node-sessions.js';
import type { Change, NodeRecord, Store } from '../store/store.js';

const HISTORY_KEPT = 20;

/**
 * Declares nodes ready or down, and notices when a worker loses (or regains) its Docker engine.
 * A node is down after it missed `missedHeartbeats` heartbeats in a row — whether its stream
 * closed (kill -9) or it stopped answering (SIGSTOP, a network cut). It stays listed, with the
 * transition in its history and an event. After a manager restart nodes get one down-window of
 * grace to reconnect before anything is declared.
 *
 * A manager whose own thread stalled (a long pause of its event loop: heartbeats sat unread in
 * its sockets) does not count that time against the nodes: after a stall of a heartbeat interval
 * or more, no node is declared down for one more interval, so the beats queued meanwhile are read
 * first. Without this, a busy manager declared dozens of live nodes down at once and replaced
 * their tasks (1,000 simulated nodes at 30,000 results/s). A node silent for twice the bound is
 * declared down whatever the manager went through.
 */
export class NodeMonitor {
  readonly #engine = new Map<string, boolean>();
  #graceMs = 0;
  /** The last moment this manager's thread was seen running (a check began or decided). */
  #lastPulse = 0;
  /** No node is declared down before this (a stall just ended). */
  #holdUntil = 0;

  constructor(
    private readonly store: Store,
    private readonly sessions: NodeSessions,
    private readonly now: () => number,
    private startedAt: number,
    private readonly onChange: () => void,
    private readonly logger: Logger,
  ) {}

  /**
   * Checks nodes until `signal` aborts; none is declared down within `graceMs` (at least one
   * heartbeat window) of `graceFrom`: a manager that starts, or takes over leading.
   */
  run(signal: AbortSignal, graceFrom = this.startedAt, graceMs = 0): void {
    this.startedAt = graceFrom;
    this.#graceMs = graceMs;
    // A manager that leads again after a while was not stalled meanwhile, only not checking.
    this.#lastPulse = 0;
    const every = Math.max(50, Math.min(250, this.sessions.heartbeatIntervalMs / 4));
    const timer = setInterval(
      () => void this.check().catch((err: unknown) => this.logger.error({ err }, 'node check failed')),
      every,
    );
    signal.addEventListener('abort', () => clearInterval(timer), { once: true });
  }

  async check(): Promise<void> {
    this.#pulse(this.now());
    const changed = await this.store.mutate((view) => {
      // Read when the check decides, not when it asked to (a write may have been under way).
      const now = this.now();
      this.#pulse(now);
      const downAfter = this.sessions.heartbeatIntervalMs * this.sessions.missedHeartbeats;
      const graceOver = now - this.startedAt > Math.max(downAfter, this.#graceMs);
      const holding = now < this.#holdUntil;
      const changes: Change[] = [];
      for (const node of view.nodes()) {
        const alive = this.sessions.isAlive(node.id);
        const engine = this.sessions.engine(node.id);
        const was = node.status ?? 'down';
        let next: NodeRecord | undefined;
        let reason = '';
        if (alive && was !== 'ready') reason = 'heartbeats arrive';
        else if (!alive && was === 'ready' && graceOver) {
          const last = this.sessions.lastSeenAt(node.id) ?? node.lastSeenAt;
          if (!holding || now - last > 2 * downAfter)
            reason = `no heartbeat for ${now - last} ms (${this.sessions.missedHeartbeats} missed)`;
        }
        if (reason) {
          const status = alive ? 'ready' : 'down';
          next = {
            ...node,
            status,
            lastSeenAt: this.sessions.lastSeenAt(node.id) ?? node.lastSeenAt,
            history: [...(node.history ?? []), { at: now, status, reason }].slice(-HISTORY_KEPT),
          };
          changes.push({
            kind: 'event',
            event: {
              type: status === 'ready' ? 'node-ready' : 'node-down',
              serviceId: '',
              service: '',
              nodeId: node.id,
              reason: `${node.name}: ${reason}`,
            },
          });
          this.logger.debug({ node: node.name, reason }, `node ${status}`);
        }
        if (alive && this.#engine.get(node.id) !== engine.ok && (this.#engine.has(node.id) || !engine.ok)) {
          const status = engine.ok ? 'engine ok' : 'degraded';
          const why = engine.ok
            ? 'the Docker engine answers again'
            : `the worker cannot reach its Docker engine: ${engine.message}`;
          const base = next ?? node;
          next = {
            ...base,
            history: [...(base.history ?? []), { at: now, status, reason: why }].slice(-HISTORY_KEPT),
          };
          changes.push({
            kind: 'event',
            event: {
              type: 'node-degraded',
              serviceId: '',
              service: '',
              nodeId: node.id,
              reason: `${node.name}: ${why}`,
            },
          });
          this.logger.debug({ node: node.name }, why);
        }
        if (alive) this.#engine.set(node.id, engine.ok);
        if (next) changes.push({ kind: 'putNode', node: next });
      }
      return { changes, result: changes.length > 0 };
    });
    if (changed) this.onChange();
  }

  /** Notes that the thread runs at `now`; a gap of a heartbeat interval or more was a stall. */
  #pulse(now: number): void {
    const interval = this.sessions.heartbeatIntervalMs;
    const stalledMs = now - this.#lastPulse;
    if (this.#lastPulse > 0 && stalledMs >= interval) {
      this.#holdUntil = Math.max(this.#holdUntil, now + interval);
      // Worth a warning when it could have cost nodes their status: as long as the down bound.
      const level = stalledMs >= interval * this.sessions.missedHeartbeats ? 'warn' : 'debug';
      this.logger[level](
        { stalledMs },
        'this manager stalled: no node is declared down before the beats queued meanwhile are read',
      );
    }
    this.#lastPulse = Math.max(this.#lastPulse, now);
  }
}
