import type { EventDraft } from '../events.js';
import type { Task } from '../task.js';
import type { Action, Plan, ReconcileInput, SlotState, TaskHealthView } from './types.js';

const NO_HEALTH: TaskHealthView = { status: 'none' };

/**
 * The plan of one reconcile pass as it is being made: changed tasks (later decisions see earlier
 * ones through `current`), slot states, events and the next wake-up time.
 */
export class PlanBuilder {
  readonly now: number;
  readonly plan: Plan = {
    actions: [],
    slots: [],
    deletedSlots: [],
    serviceStates: [],
    services: [],
    deletedServiceStates: [],
    events: [],
    serviceWakes: new Map(),
    waitingForRoom: new Set(),
  };
  /** The service being decided on: the wake-ups it asks for are its own. */
  #service = '';
  readonly #actions = new Map<string, Action>();
  readonly #slotPuts = new Map<string, SlotState>();
  readonly #knownSlots: Map<string, SlotState>;
  /** Slot numbers with a record, stored or put by this pass, by service. */
  readonly #slotNumbers = new Map<string, Set<number>>();
  /** Ids of the tasks this pass creates, by service and by `service/slot`. */
  readonly #createdIds = new Map<string, string[]>();
  readonly #health: ReadonlyMap<string, TaskHealthView>;

  constructor(readonly input: ReconcileInput) {
    this.now = input.now;
    this.#knownSlots = new Map((input.slots ?? []).map((s) => [slotKey(s.serviceId, s.slot), s]));
    for (const s of input.slots ?? []) this.#noteSlot(s);
    this.#health = input.health ?? new Map();
  }

  #noteSlot(s: { serviceId: string; slot: number }): void {
    const numbers = this.#slotNumbers.get(s.serviceId);
    if (numbers) numbers.add(s.slot);
    else this.#slotNumbers.set(s.serviceId, new Set([s.slot]));
  }

  healthOf(task: Task): TaskHealthView {
    return this.#health.get(task.id) ?? NO_HEALTH;
  }

  /** The task as this pass has left it so far. */
  current(task: Task): Task {
    return this.#actions.get(task.id)?.task ?? task;
  }

  update(task: Task, change: Partial<Task>): Task {
    const prior = this.#actions.get(task.id);
    const next = { ...this.current(task), ...change, updatedAt: this.now };
    this.#actions.set(task.id, { type: prior?.type === 'create' ? 'create' : 'update', task: next });
    return next;
  }

  create(task: Task): void {
    this.#actions.set(task.id, { type: 'create', task });
    for (const key of [task.serviceId, slotKey(task.serviceId, task.slot)]) {
      const ids = this.#createdIds.get(key);
      if (ids) ids.push(task.id);
      else this.#createdIds.set(key, [task.id]);
    }
  }

  remove(task: Task): void {
    this.#actions.set(task.id, { type: 'delete', task });
  }

  /** Tells a task to shut down; one that never reached a node has nothing to stop and ends here. */
  stop(task: Task, message: string): void {
    if (task.state === 'new' || task.state === 'pending')
      this.update(task, { desiredState: 'shutdown', state: 'shutdown', message });
    else this.update(task, { desiredState: 'shutdown', message });
  }

  /** Tasks this pass creates for a service (and slot). */
  created(serviceId: string, slot?: number): Task[] {
    const ids = this.#createdIds.get(slot === undefined ? serviceId : slotKey(serviceId, slot)) ?? [];
    const tasks: Task[] = [];
    for (const id of ids) {
      const action = this.#actions.get(id);
      if (action?.type === 'create') tasks.push(action.task);
    }
    return tasks;
  }

  /** Every task this pass creates or changes. */
  changed(): Task[] {
    return [...this.#actions.values()].map((a) => a.task);
  }

  event(draft: EventDraft): void {
    this.plan.events.push(draft);
  }

  /** Slot numbers of a service with a record, stored or made by this pass. */
  slotNumbers(serviceId: string): number[] {
    return [...(this.#slotNumbers.get(serviceId) ?? [])];
  }

  hasSlotRecord(serviceId: string, slot: number): boolean {
    return this.#knownSlots.has(slotKey(serviceId, slot));
  }

  slotOf(serviceId: string, slot: number): SlotState {
    const key = slotKey(serviceId, slot);
    return this.#slotPuts.get(key) ?? this.#knownSlots.get(key) ?? emptySlot(serviceId, slot);
  }

  putSlot(state: SlotState): void {
    this.#slotPuts.set(slotKey(state.serviceId, state.slot), state);
    this.#noteSlot(state);
  }

  /** From now on, decisions are about `serviceId` (until the next call). */
  forService(serviceId: string): void {
    this.#service = serviceId;
  }

  /** Asks for a pass at `at` for the current service (the earliest wins). */
  wake(at: number): void {
    if (at <= this.now) return;
    if (this.plan.wakeAt === undefined || at < this.plan.wakeAt) this.plan.wakeAt = at;
    const known = this.plan.serviceWakes.get(this.#service);
    if (known === undefined || at < known) this.plan.serviceWakes.set(this.#service, at);
  }

  build(): Plan {
    this.plan.actions = [...this.#actions.values()];
    this.plan.slots = [...this.#slotPuts.values()];
    return this.plan;
  }
}

function slotKey(serviceId: string, slot: number): string {
  return `${serviceId}/${slot}`;
}

function emptySlot(serviceId: string, slot: number): SlotState {
  return {
    serviceId,
    slot,
    failures: 0,
    lastFailureAt: 0,
    nextAttemptAt: 0,
    healthFailure: false,
    gaveUp: false,
    lastReason: '',
  };
}

export function groupBy<T, K>(items: readonly T[], keyOf: (item: T) => K): Map<K, T[]> {
  const groups = new Map<K, T[]>();
  for (const item of items) {
    const k = keyOf(item);
    const group = groups.get(k);
    if (group) group.push(item);
    else groups.set(k, [item]);
  }
  return groups;
}

export function newestFirst(a: Task, b: Task): number {
  return b.createdAt - a.createdAt || (a.id < b.id ? 1 : -1);
}
