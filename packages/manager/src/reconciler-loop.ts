import type { Logger } from 'pino';
import { reconcile, type Action } from '@warren/core';
import type { NodeSessions } from './node-sessions.js';
import type { Change, Store } from './store.js';

/**
 * Runs the pure reconciler (packages/core/src/reconcile.ts) against the store and writes its
 * actions as one atomic batch. Event driven: `trigger()` after anything relevant changes runs a
 * pass on the next turn of the event loop (passes coalesce); a periodic safety pass catches
 * what no event announced (a node whose heartbeats stopped).
 */
export class ReconcilerLoop {
  #scheduled = false;
  #stopped = false;
  #passes = 0;

  constructor(
    private readonly store: Store,
    private readonly sessions: NodeSessions,
    private readonly now: () => number,
    private readonly newId: () => string,
    private readonly logger: Logger,
  ) {}

  get passes(): number {
    return this.#passes;
  }

  /** Asks for a pass soon. Cheap to call often. */
  trigger(): void {
    if (this.#scheduled || this.#stopped) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      this.pass().catch((err: unknown) => this.logger.error({ err }, 'reconcile pass failed'));
    });
  }

  /** Runs safety passes every `intervalMs` until `signal` aborts. */
  run(intervalMs: number, signal: AbortSignal): void {
    const timer = setInterval(() => this.trigger(), intervalMs);
    signal.addEventListener(
      'abort',
      () => {
        this.#stopped = true;
        clearInterval(timer);
      },
      { once: true },
    );
  }

  pass(): Promise<number> {
    return this.store.mutate((view) => {
      this.#passes++;
      const actions = reconcile({
        services: [...view.services()],
        tasks: [...view.tasks()],
        nodes: [...view.nodes()].map((n) => ({ id: n.id, name: n.name, ready: this.sessions.isReady(n.id), images: n.images })),
        now: this.now(),
        newId: this.newId,
      });
      for (const action of actions) this.#log(action, view.task(action.task.id));
      const changes = actions.map((a): Change => (a.type === 'delete' ? { kind: 'deleteTask', task: a.task } : { kind: 'putTask', task: a.task }));
      return { changes, result: actions.length };
    });
  }

  #log(action: Action, before: Action['task'] | undefined): void {
    const t = action.task;
    const fields = { service: t.serviceName, slot: t.slot, task: t.id };
    if (action.type === 'delete') this.logger.debug(fields, 'ended task removed from history');
    else if (action.type === 'create') this.logger.info({ ...fields, node: t.nodeId || undefined }, t.nodeId ? 'task created and assigned' : 'task created');
    else if (before && before.desiredState !== t.desiredState) {
      this.logger.info({ ...fields, state: t.state, reason: t.error || t.message }, 'task to shut down');
    } else if (before && before.nodeId !== t.nodeId) this.logger.info({ ...fields, node: t.nodeId }, 'task assigned');
  }
}
