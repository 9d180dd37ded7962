import type { Logger } from 'pino';
import {
  confirmedSince,
  reconcile,
  taskHealthView,
  taskReady,
  type Plan,
  type Task,
  type TaskHealthRecords,
  type TaskHealthView,
} from '@warren/core';
import type { NodeSessions } from './workers/node-sessions.js';
import type { Change, Store } from './store/store.js';

/**
 * Runs the pure reconciler (packages/core/src/reconcile.ts) against the store and writes its
 * plan — task changes, slot and service states, events — as one atomic batch.
 *
 * Event driven: `trigger()` after anything relevant changes runs a pass on the next turn of the
 * event loop (passes coalesce). When the plan says something becomes due later (a backoff ends,
 * a slot is forgiven), a timer wakes the loop exactly then; a periodic safety pass catches what
 * no event announced (a node whose heartbeats stopped).
 */
export class ReconcilerLoop {
  #scheduled = false;
  /** Until `run`: a manager that does not lead decides nothing. */
  #stopped = true;
  /**
   * When this manager began to lead: a liveness or startup verdict older than that is acted on
   * only once a result after it confirms it (DESIGN 9: a failover replaces nothing on old history).
   */
  actingSince = 0;
  #passes = 0;
  #wakeTimer: NodeJS.Timeout | undefined;
  #wakeAt = Infinity;
  /** When the last pass finished (0 before the first). */
  lastPassAt = 0;
  #lastPassEnd = 0;
  #lastPassMs = 0;
  /** Durations of passes, for the metrics (seconds). */
  onPass?: (seconds: number) => void;

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

  /**
   * Asks for a pass soon. Cheap to call often. Right after a pass, the next waits as long as that
   * one took (at most REST_MAX_MS): under a stream of changes the loop keeps at least half of the
   * event loop for taking them, and each pass decides on more of them at once.
   */
  trigger(): void {
    if (this.#scheduled || this.#stopped) return;
    this.#scheduled = true;
    const rest = Math.min(REST_MAX_MS, this.#lastPassMs) - (performance.now() - this.#lastPassEnd);
    const run = (): void => {
      this.#scheduled = false;
      this.pass().catch((err: unknown) => {
        // A leader that was just fenced (another manager leads): its pass was not written, as it must not be.
        if ((err as Error).name === 'FencedError')
          this.logger.warn({ reason: (err as Error).message }, 'pass not written');
        else this.logger.error({ err }, 'reconcile pass failed');
      });
    };
    if (rest > 1) setTimeout(run, rest);
    else setImmediate(run);
  }

  /** Runs safety passes every `intervalMs` until `signal` aborts. */
  run(intervalMs: number, signal: AbortSignal): void {
    this.#stopped = false;
    const timer = setInterval(() => this.trigger(), intervalMs);
    signal.addEventListener(
      'abort',
      () => {
        this.#stopped = true;
        clearInterval(timer);
        clearTimeout(this.#wakeTimer);
      },
      { once: true },
    );
  }

  async pass(): Promise<Plan> {
    const t0 = performance.now();
    const plan = await this.#pass();
    this.lastPassAt = this.now();
    this.#lastPassEnd = performance.now();
    this.#lastPassMs = this.#lastPassEnd - t0;
    this.onPass?.(this.#lastPassMs / 1000);
    return plan;
  }

  #pass(): Promise<Plan> {
    return this.store.mutate((view) => {
      this.#passes++;
      const tasks = [...view.tasks()];
      const health = new Map<string, TaskHealthView>();
      for (const task of tasks) health.set(task.id, healthOf(task, view.health(task.id), this.actingSince));
      const plan = reconcile({
        services: [...view.services()],
        tasks,
        nodes: [...view.nodes()].map((n) => ({
          id: n.id,
          name: n.name,
          ready: this.sessions.isReady(n.id) && n.status === 'ready',
          down: n.status !== 'ready' && !this.sessions.isAlive(n.id),
          availability: n.availability ?? 'active',
          engineTrouble: !this.sessions.engine(n.id).ok,
          images: n.images,
        })),
        slots: [...view.slots()],
        serviceStates: [...view.serviceStates()],
        health,
        now: this.now(),
        newId: this.newId,
      });
      for (const e of plan.events)
        this.logger.debug({ service: e.service, slot: e.slot, task: e.taskId, type: e.type }, e.reason);
      const changes: Change[] = [
        ...plan.actions.map((a): Change =>
          a.type === 'delete' ? { kind: 'deleteTask', task: a.task } : { kind: 'putTask', task: a.task },
        ),
        ...plan.slots.map((state): Change => ({ kind: 'putSlot', state })),
        ...plan.deletedSlots.map((s): Change => ({ kind: 'deleteSlot', ...s })),
        ...plan.serviceStates.map((state): Change => ({ kind: 'putServiceState', state })),
        ...plan.services.map((service): Change => ({ kind: 'putService', service })),
        ...plan.deletedServiceStates.map((serviceId): Change => ({ kind: 'deleteServiceState', serviceId })),
        ...plan.events.map((event): Change => ({ kind: 'event', event })),
      ];
      if (plan.wakeAt !== undefined) this.#wakeUpAt(plan.wakeAt);
      return { changes, result: plan };
    });
  }

  /** Runs a pass at `at` (the earliest wanted time wins). */
  #wakeUpAt(at: number): void {
    if (this.#stopped || at >= this.#wakeAt) return;
    clearTimeout(this.#wakeTimer);
    this.#wakeAt = at;
    this.#wakeTimer = setTimeout(
      () => {
        this.#wakeAt = Infinity;
        this.trigger();
      },
      Math.max(0, at - this.now()),
    );
  }
}

/** A pass after a pass waits at most this long (see `trigger`). */
const REST_MAX_MS = 50;

/**
 * The health views of the last pass, by task: a task and its records are replaced, never changed,
 * when they change, so a view is computed again only for what changed (a pass reads every task).
 */
const views = new WeakMap<Task, { records: TaskHealthRecords; actingSince: number; view: TaskHealthView }>();

function healthOf(task: Task, records: TaskHealthRecords, actingSince: number): TaskHealthView {
  const known = views.get(task);
  if (known && known.records === records && known.actingSince === actingSince) return known.view;
  const view = computeHealth(task, records, actingSince);
  views.set(task, { records, actingSince, view });
  return view;
}

/** A task's health as the reconciler reads it, with whether (and since when) it is ready. */
function computeHealth(task: Task, records: TaskHealthRecords, actingSince: number): TaskHealthView {
  const summary = confirmedSince(taskHealthView(task.spec.health, records), records, actingSince);
  const ready = taskReady(task.spec.health, records, task.state === 'running');
  if (!ready) return { ...summary, ready };
  const since = Math.max(
    task.startedAt,
    records.readiness?.lastTransitionAt ?? 0,
    records.startup?.lastTransitionAt ?? 0,
  );
  return { ...summary, ready, readySince: since };
}
