import type { Logger } from 'pino';
import { servedTargets, type Task, type TaskState } from '@warren/core';

import { assignments } from './assignments.js';
import type { IngressTables } from '../ingress/tables.js';
import type { NodeSessions } from './node-sessions.js';
import type { Change, Store } from '../store/store.js';

/** States in which the worker has already stopped the container, or it has ended. */
const STOPPED: ReadonlySet<TaskState> = new Set(['shutdown', 'complete', 'rejected']);

/**
 * Sends task changes to the workers of their nodes, and drains before it stops: a task with
 * published ports that is to stop (replacement, scale down, node drain, rm) leaves the ingress
 * table first, and its worker hears of the stop only once every connected proxy has confirmed
 * that table — or after the drain timeout. No fixed sleep, no `preStop` hook: the stop waits for
 * the proxies to say they no longer send it connections.
 */
export class TaskDispatch {
  /** Tasks whose stop is held back until the proxies confirm; their workers still run them. */
  readonly #draining = new Set<string>();
  /** Tasks whose stop went out after their drain. */
  readonly #released = new Set<string>();
  /** Drains by outcome, for the metrics. */
  readonly drains = { confirmed: 0, timedOut: 0 };
  /** Seconds from a stop's decision to its release, for the metrics. */
  onDrained?: (seconds: number) => void;

  constructor(
    private readonly store: Store,
    private readonly sessions: NodeSessions,
    private readonly ingress: IngressTables,
    private readonly drainTimeoutMs: number,
    private readonly logger: Logger,
  ) {}

  /** After a commit: every changed task goes to its node, but stops that must drain wait. */
  push(changes: readonly Change[]): void {
    const byNode = new Map<string, { tasks: Task[]; removed: string[] }>();
    const forNode = (nodeId: string) => {
      let changed = byNode.get(nodeId);
      if (!changed) byNode.set(nodeId, (changed = { tasks: [], removed: [] }));
      return changed;
    };
    for (const change of changes) {
      if (change.kind === 'putTask' && change.task.nodeId !== '') {
        // The worker's own report comes back to it only if it changed more than the state it told.
        if (change.reported) continue;
        if (!this.#holds(change.task)) forNode(change.task.nodeId).tasks.push(change.task);
      } else if (change.kind === 'deleteTask' && change.task.nodeId !== '') {
        // A removal while draining goes out with the release.
        if (this.#draining.has(change.task.id)) continue;
        this.#released.delete(change.task.id);
        forNode(change.task.nodeId).removed.push(change.task.id);
      }
    }
    for (const [nodeId, { tasks, removed }] of byNode) this.#send(nodeId, tasks, removed);
  }

  /** A task as its worker must see it now: one that drains still runs. */
  view(task: Task): Task {
    return this.#draining.has(task.id) ? { ...task, desiredState: 'running' } : task;
  }

  get draining(): number {
    return this.#draining.size;
  }

  /**
   * After a manager restart: stops that were decided but whose container may still answer drain
   * again, once the workers had `afterMs` to reconnect (their proxies may hold the old tables).
   */
  resume(afterMs: number): void {
    const pending = [...this.store.tasks()].filter((t) => this.#mustDrain(t));
    for (const task of pending) this.#draining.add(task.id);
    if (pending.length === 0) return;
    this.logger.info({ tasks: pending.length, afterMs }, 'stops decided before the restart drain again');
    setTimeout(() => {
      for (const task of pending) {
        this.#draining.delete(task.id);
        const current = this.store.task(task.id);
        if (current && !this.#holds(current)) this.#send(current.nodeId, [current], []);
      }
    }, afterMs).unref();
  }

  /** A task told to stop whose container may still answer, serving ports (published or by name), not drained yet. */
  #mustDrain(task: Task): boolean {
    // A task failed by its health check is `failed` at once, its container still running.
    const stopping = task.desiredState === 'shutdown' && task.containerId !== '' && !STOPPED.has(task.state);
    return stopping && servedTargets(task.spec).length > 0 && !this.#released.has(task.id) && task.nodeId !== '';
  }

  /** Whether the task's change must wait; starts its drain when it has just been told to stop. */
  #holds(task: Task): boolean {
    if (this.#draining.has(task.id)) return true;
    if (!this.#mustDrain(task)) return false;
    this.#draining.add(task.id);
    const startedAt = performance.now();
    const version = this.ingress.recompute();
    void this.ingress.confirmed(version, this.drainTimeoutMs).then((confirmed) => {
      this.#draining.delete(task.id);
      // A task deleted meanwhile gets its removal below, and is forgotten.
      if (this.store.task(task.id)) this.#released.add(task.id);
      const ms = Math.round(performance.now() - startedAt);
      const fields = { service: task.serviceName, slot: task.slot, task: task.id, version, ms };
      if (confirmed) {
        this.drains.confirmed++;
        this.logger.debug(fields, 'drained: every proxy confirmed; stopping');
      } else {
        this.drains.timedOut++;
        this.logger.warn({ ...fields, timeoutMs: this.drainTimeoutMs }, 'drain timed out; stopping anyway');
      }
      this.onDrained?.(ms / 1000);
      const current = this.store.task(task.id);
      if (current) this.#send(task.nodeId, [current], []);
      else this.#send(task.nodeId, [], [task.id]);
    });
    return true;
  }

  #send(nodeId: string, tasks: Task[], removed: string[]): void {
    this.sessions.send(nodeId, assignments(this.store, this.store.node(nodeId)?.name ?? '', tasks, removed));
  }
}
