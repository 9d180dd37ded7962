/**
 * What a manager does when its term as leader begins and ends (DESIGN 9).
 *
 * Begins: with etcd it writes a first, fenced record of its term and waits until its copy of the
 * state has caught up to it (everything its predecessor wrote is in), then stops following and
 * is the only writer. Every node gets a full heartbeat grace from now (no node is declared down
 * for the failover), stops decided before drain again, and the reconciler starts — replacing
 * nothing on a health verdict older than the term until a fresh result confirms it.
 *
 * Ends: the loops stop (the term's signal), workers' streams are closed (they go to the next
 * leader), nothing more is written, and the state is loaded again from etcd and followed.
 */
import type { Logger } from 'pino';
import type { IngressTables } from '../ingress/tables.js';
import type { ReconcilerLoop } from '../reconciler-loop.js';
import type { EtcdBackend } from '../store/etcd/backend.js';
import type { Following } from '../store/etcd/following.js';
import type { Store } from '../store/store.js';
import type { NodeMonitor } from '../workers/node-monitor.js';
import type { NodeSessions } from '../workers/node-sessions.js';
import type { TaskDispatch } from '../workers/task-dispatch.js';
import type { LeaderInfo, Term } from './election.js';

/** How long a new leader waits for its copy of the state to catch up before it gives the term up. */
const CATCH_UP_MS = 5000;

export interface TermDeps {
  store: Store;
  /** With etcd: the backend to fence, and the follower's watch. */
  etcd?: { backend: EtcdBackend; following: Following };
  sessions: NodeSessions;
  reconciler: ReconcilerLoop;
  monitor: NodeMonitor;
  ingress: IngressTables;
  dispatch: TaskDispatch;
  /** Heartbeats missed in a row before a node is down, times the interval. */
  graceMs: number;
  reconcileIntervalMs: number;
  info: LeaderInfo;
  now: () => number;
  /** Gives the term up (the catch-up failed). */
  stepDown: (why: string) => void;
  logger: Logger;
}

export class Terms {
  /** When the current term began (0: this manager does not lead). */
  since = 0;

  constructor(private readonly deps: TermDeps) {}

  begin(term: Term): void {
    this.#begin(term).catch((err: unknown) => {
      if (term.signal.aborted) return;
      this.deps.logger.error({ reason: (err as Error).message }, 'cannot take over: giving the term up');
      this.deps.stepDown(`cannot take over: ${(err as Error).message}`);
    });
  }

  async #begin(term: Term): Promise<void> {
    const { store, etcd, reconciler, monitor, ingress, dispatch, graceMs, now } = this.deps;
    if (etcd) {
      etcd.backend.setFence(term.fence);
      const record = JSON.stringify({ ...this.deps.info, revision: term.fence?.revision, at: now() });
      await store.mutate(() => ({
        changes: [{ kind: 'putMeta', key: 'leader-term', value: record }],
        result: undefined,
      }));
      await etcd.following.waitFor(etcd.backend.writtenRevision, CATCH_UP_MS);
      await etcd.following.stop();
      if (term.signal.aborted) return;
    }
    this.since = term.since;
    term.signal.addEventListener('abort', () => void this.#end(), { once: true });
    ingress.restartGrace(now() + graceMs);
    dispatch.resume(graceMs);
    reconciler.actingSince = term.since;
    monitor.run(term.signal, term.since, graceMs);
    reconciler.run(this.deps.reconcileIntervalMs, term.signal);
    // Alone on LevelDB a manager always leads: nothing to tell.
    const level = etcd ? 'info' : 'debug';
    this.deps.logger[level]({ graceMs }, 'leading: nodes have a heartbeat grace, the reconciler runs');
    try {
      await reconciler.pass();
      this.deps.logger[level]({ sinceTermMs: now() - term.since }, 'first reconcile pass');
    } catch (err) {
      // Not a reason to give the term up: the loop's next pass tries again.
      this.deps.logger.warn({ reason: (err as Error).message }, 'first reconcile pass not written');
      reconciler.trigger();
    }
  }

  async #end(): Promise<void> {
    const { store, etcd, sessions, logger } = this.deps;
    this.since = 0;
    sessions.closeAll();
    if (!etcd) return;
    etcd.backend.setFence(undefined);
    try {
      await store.reload();
    } catch (err) {
      logger.warn({ reason: (err as Error).message }, 'cannot load the state from etcd; following from what is known');
    }
    etcd.following.start();
  }
}
