import type { Logger } from 'pino';
import {
  confirmedSince,
  isTerminal,
  reconcile,
  type ReconcileInput,
  type Service,
  type ServiceState,
  type SlotState,
  taskHealthView,
  taskReady,
  type Plan,
  type Task,
  type TaskHealthRecords,
  type TaskHealthView,
} from '@warren/core';
import { ALL, PassScope, type Scope } from './pass-scope.js';
import type { NodeSessions } from './workers/node-sessions.js';
import type { Change, Store, StoreView } from './store/store.js';

/**
 * Runs the pure reconciler (packages/core/src/reconcile.ts) against the store and writes its
 * plan — task changes, slot and service states, events — as one atomic batch.
 *
 * Event driven: `trigger()` after anything relevant changes runs a pass on the next turn of the
 * event loop (passes coalesce). A pass decides on the services that changed since their last
 * pass (pass-scope.ts), so its cost follows change, not the cluster's size. When the plan says
 * something becomes due later (a backoff ends, a slot is forgiven), a timer wakes the loop
 * exactly then, for those services; a periodic safety pass over everything catches what no
 * change announced (a verdict from before this manager led, confirmed by a later result).
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
  readonly #scope = new PassScope();
  #lastFullEnd = 0;
  #lastFullMs = 0;
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

  /** Notes a commit's changes (the services they concern); asks for a pass if any concern one. */
  changed(changes: readonly Change[]): void {
    if (this.#scope.note(changes)) this.trigger();
  }

  /** Asks for a pass over every service (a node's session changed: any service may move). */
  triggerAll(): void {
    this.#scope.all();
    this.trigger();
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

  /**
   * Runs until `signal` aborts, starting with a pass over everything. A safety pass over every
   * service comes every `intervalMs`, or more rarely when one costs more than 1/SAFETY_SHARE of
   * that time.
   */
  run(intervalMs: number, signal: AbortSignal): void {
    this.#stopped = false;
    this.#scope.all();
    const timer = setInterval(() => {
      if (performance.now() - this.#lastFullEnd >= this.#lastFullMs * SAFETY_SHARE) this.#scope.all();
      this.trigger();
    }, intervalMs);
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

  /** A pass over what changed (everything, the first time): returns its plan, if it made one. */
  async pass(): Promise<Plan | undefined> {
    const t0 = performance.now();
    let scope: Scope = ALL;
    const plan = await this.#pass((s) => (scope = s)).catch((err: unknown) => {
      // What this pass took on is not decided yet: the next looks at everything.
      this.#scope.all();
      throw err;
    });
    // A pass with nothing to look at still shows the loop is alive (the daemon's health says so).
    this.lastPassAt = this.now();
    if (!plan) return undefined;
    this.#lastPassEnd = performance.now();
    this.#lastPassMs = this.#lastPassEnd - t0;
    if (scope === ALL) [this.#lastFullEnd, this.#lastFullMs] = [this.#lastPassEnd, this.#lastPassMs];
    this.onPass?.(this.#lastPassMs / 1000);
    return plan;
  }

  #pass(took: (scope: Scope) => void): Promise<Plan | undefined> {
    return this.store.mutate((view) => {
      const scope = this.#scope.take(this.now());
      took(scope);
      if (scope !== ALL && scope.size === 0) {
        this.#wakeUpAt(this.#scope.nextWake());
        return { changes: [], result: undefined };
      }
      this.#passes++;
      const part = scope === ALL ? whole(view) : some(view, scope);
      const health = new Map<string, TaskHealthView>();
      for (const task of part.tasks) health.set(task.id, healthOf(task, view.health(task.id), this.actingSince));
      const plan = reconcile({
        ...part,
        nodes: [...view.nodes()].map((n) => ({
          id: n.id,
          name: n.name,
          ready: this.sessions.isReady(n.id) && n.status === 'ready',
          down: n.status !== 'ready' && !this.sessions.isAlive(n.id),
          availability: n.availability ?? 'active',
          engineTrouble: !this.sessions.engine(n.id).ok,
          images: n.images,
          ...(n.capacity ? { capacity: n.capacity, reserved: view.reservedOnNode(n.id) } : {}),
        })),
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
      this.#scope.settle(scope, plan.serviceWakes, plan.waitingForRoom);
      this.#wakeUpAt(this.#scope.nextWake());
      return { changes, result: plan };
    });
  }

  /** Runs a pass at `at` (the earliest wanted time wins). */
  #wakeUpAt(at: number): void {
    if (this.#stopped || at >= this.#wakeAt || at === Infinity) return;
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
/** Safety passes over everything take at most one part in this many of the manager's time. */
const SAFETY_SHARE = 20;

type Part = Pick<ReconcileInput, 'services' | 'tasks' | 'slots' | 'serviceStates' | 'loadElsewhere'>;

/** The whole state, for a pass over every service. */
function whole(view: StoreView): Part {
  return {
    services: [...view.services()],
    tasks: [...view.tasks()],
    slots: [...view.slots()],
    serviceStates: [...view.serviceStates()],
  };
}

/**
 * What a pass over `ids` decides on: those services (a removed one's id brings its tasks along)
 * and, for placement, how many tasks of other services each node runs.
 */
function some(view: StoreView, ids: ReadonlySet<string>): Part {
  const part = { services: [] as Service[], tasks: [] as Task[], slots: [] as SlotState[] };
  const serviceStates: ServiceState[] = [];
  const loadElsewhere = new Map<string, number>();
  for (const node of view.nodes()) {
    const load = view.liveTasksOnNode(node.id);
    if (load > 0) loadElsewhere.set(node.id, load);
  }
  for (const id of ids) {
    const service = view.service(id);
    if (service) part.services.push(service);
    const state = view.serviceState(id);
    if (state) serviceStates.push(state);
    part.slots.push(...view.slotsOfService(id));
    for (const task of view.tasksOfService(id)) {
      part.tasks.push(task);
      if (task.nodeId === '' || task.desiredState !== 'running' || isTerminal(task.state)) continue;
      loadElsewhere.set(task.nodeId, (loadElsewhere.get(task.nodeId) ?? 1) - 1);
    }
  }
  return { ...part, serviceStates, loadElsewhere };
}

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
