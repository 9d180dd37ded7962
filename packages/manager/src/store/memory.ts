import {
  addCapacity,
  EVENTS_KEPT,
  NO_RESOURCES,
  reservationOf,
  type Capacity,
  isTerminal,
  RESULTS_KEPT,
  ROLLBACK_DEFAULTS,
  UPDATE_DEFAULTS,
  type Phase,
  type PhaseState,
  type ProbeResult,
  type RegistryAuth,
  type Service,
  type ServiceSpec,
  type ServiceState,
  type SlotState,
  type Task,
  type TaskHealthRecords,
  type WarrenEvent,
} from '@warren/core';
import { Grouped } from './grouped.js';
import type { Change, NodeRecord, StoreView } from './types.js';

/**
 * The manager's state in memory: what every read sees. Filled from a backend's keys at start
 * (`loadEntry`, layout.ts) and kept up to date with each change as it is written (`apply`), by
 * the store that writes it or, on a follower, from the leader's writes as etcd reports them.
 */
/** The records of a task without any: one object, so that readers can tell nothing changed. */
const NO_HEALTH: TaskHealthRecords = Object.freeze({});

export class MemoryState implements StoreView {
  readonly #services = new Map<string, Service>();
  readonly #serviceIdByName = new Map<string, string>();
  readonly #tasks = new Map<string, Task>();
  readonly #tasksByService = new Grouped<Task>();
  readonly #tasksByNode = new Grouped<Task>();
  /** Tasks that should run on a node, by node: what placement weighs. */
  readonly #liveOnNode = new Map<string, number>();
  /** What the tasks on each node that have not ended reserve (a task stopping still holds its room). */
  readonly #reservedOnNode = new Map<string, Capacity>();
  readonly #nodes = new Map<string, NodeRecord>();
  readonly #health = new Map<string, TaskHealthRecords>();
  /** Ring position of the next result per task and phase (`<task>:<phase>`); layout.ts advances it. */
  readonly ring = new Map<string, number>();
  readonly #slots = new Map<string, SlotState>();
  readonly #slotsByService = new Grouped<SlotState>();
  readonly #serviceStates = new Map<string, ServiceState>();
  #events: WarrenEvent[] = [];
  readonly #meta = new Map<string, string>();
  readonly #auths = new Map<string, RegistryAuth>();

  /** Forgets everything (before loading again). */
  clear(): void {
    for (const map of [this.#services, this.#serviceIdByName, this.#tasks, this.#nodes, this.#health, this.ring])
      map.clear();
    for (const map of [
      this.#slots,
      this.#serviceStates,
      this.#meta,
      this.#auths,
      this.#liveOnNode,
      this.#reservedOnNode,
    ])
      map.clear();
    for (const index of [this.#tasksByService, this.#tasksByNode, this.#slotsByService]) index.clear();
    this.#events = [];
  }

  /** One key of a backend, as layout.ts wrote it; results are sorted by `finishLoad`. */
  loadEntry(key: string, value: unknown): void {
    const sep = key.indexOf(':');
    const kind = key.slice(0, sep);
    const id = key.slice(sep + 1);
    if (kind === 'service') this.#putService(withPorts(value as Service));
    else if (kind === 'task') this.#putTask(withPorts(value as Task));
    else if (kind === 'node') this.#nodes.set(id, value as NodeRecord);
    else if (kind === 'slot') this.#putSlot(value as SlotState);
    else if (kind === 'svcstate') this.#serviceStates.set(id, value as ServiceState);
    else if (kind === 'event') this.#events.push(value as WarrenEvent);
    else if (kind === 'health') {
      const [taskId, phase] = id.split(':') as [string, Phase];
      const { ring, ...state } = value as PhaseState & { ring: number };
      const known = this.#health.get(taskId)?.[phase];
      this.#health.set(taskId, { ...this.#health.get(taskId), [phase]: { ...state, results: known?.results ?? [] } });
      this.ring.set(`${taskId}:${phase}`, ring);
    } else if (kind === 'result') {
      const [taskId, phase] = id.split(':') as [string, Phase];
      const records = this.#health.get(taskId) ?? {};
      const record = records[phase] ?? { ...EMPTY_PHASE, results: [] };
      record.results.push(value as ProbeResult);
      this.#health.set(taskId, { ...records, [phase]: record });
    } else if (kind === 'meta') this.#meta.set(id, value as string);
    else if (kind === 'auth') this.#auths.set(id, value as RegistryAuth);
  }

  /** After the last `loadEntry`: results in time order, the newest RESULTS_KEPT. */
  finishLoad(): void {
    this.#events.sort((a, b) => a.seq - b.seq);
    for (const records of this.#health.values()) {
      for (const record of Object.values(records)) {
        record.results.sort((a, b) => a.at - b.at);
        record.results.splice(0, Math.max(0, record.results.length - RESULTS_KEPT));
      }
    }
  }

  /** Takes written changes and stamped events in. */
  apply(changes: readonly Change[], events: readonly WarrenEvent[]): void {
    if (events.length > 0) {
      const all = [...this.#events, ...events];
      this.#events = all.length > EVENTS_KEPT ? all.slice(all.length - EVENTS_KEPT) : all;
    }
    for (const c of changes) {
      if (c.kind === 'putService') this.#putService(c.service);
      else if (c.kind === 'deleteService') {
        this.#services.delete(c.service.id);
        this.#serviceIdByName.delete(c.service.spec.name);
        this.#auths.delete(c.service.id);
      } else if (c.kind === 'putTask') this.#putTask(c.task);
      else if (c.kind === 'deleteTask') {
        this.#deleteTask(c.task.id);
        this.#health.delete(c.task.id);
      } else if (c.kind === 'putHealth')
        this.#health.set(c.taskId, { ...this.#health.get(c.taskId), [c.phase]: c.record });
      else if (c.kind === 'putNode') this.#nodes.set(c.node.id, c.node);
      else if (c.kind === 'putSlot') this.#putSlot(c.state);
      else if (c.kind === 'deleteSlot') this.#deleteSlot(c);
      else if (c.kind === 'putServiceState') this.#serviceStates.set(c.state.serviceId, c.state);
      else if (c.kind === 'deleteServiceState') this.#serviceStates.delete(c.serviceId);
      else if (c.kind === 'putMeta') this.#meta.set(c.key, c.value);
      else if (c.kind === 'putAuth') this.#auths.set(c.serviceId, c.auth);
    }
  }

  /** Events older than `seq` are gone (a follower sees the leader drop them). */
  dropEventsThrough(seq: number): void {
    if ((this.#events[0]?.seq ?? Infinity) <= seq) this.#events = this.#events.filter((e) => e.seq > seq);
  }

  #putTask(task: Task): void {
    const before = this.#tasks.get(task.id);
    if (before) this.#unindex(before);
    // Set in place: a changed task keeps its position in `tasks()`.
    this.#tasks.set(task.id, task);
    this.#tasksByService.put(task.serviceId, task.id, task);
    if (task.nodeId === '') return;
    this.#tasksByNode.put(task.nodeId, task.id, task);
    if (!isTerminal(task.state)) this.#reserve(task.nodeId, reservationOf(task.spec), 1);
    if (runsOnItsNode(task)) this.#liveOnNode.set(task.nodeId, (this.#liveOnNode.get(task.nodeId) ?? 0) + 1);
  }

  #deleteTask(id: string): void {
    const task = this.#tasks.get(id);
    if (!task) return;
    this.#tasks.delete(id);
    this.#unindex(task);
  }

  /** Takes `task` out of the indexes (not out of the tasks). */
  #unindex(task: Task): void {
    this.#tasksByService.delete(task.serviceId, task.id);
    if (task.nodeId === '') return;
    this.#tasksByNode.delete(task.nodeId, task.id);
    if (!isTerminal(task.state)) this.#reserve(task.nodeId, reservationOf(task.spec), -1);
    if (!runsOnItsNode(task)) return;
    const left = (this.#liveOnNode.get(task.nodeId) ?? 0) - 1;
    if (left > 0) this.#liveOnNode.set(task.nodeId, left);
    else this.#liveOnNode.delete(task.nodeId);
  }

  #reserve(nodeId: string, need: Capacity, sign: 1 | -1): void {
    if (need.nanoCpus === 0 && need.memoryBytes === 0) return;
    const was = this.#reservedOnNode.get(nodeId) ?? NO_RESOURCES.reservations;
    const now = addCapacity(was, { nanoCpus: sign * need.nanoCpus, memoryBytes: sign * need.memoryBytes });
    if (now.nanoCpus === 0 && now.memoryBytes === 0) this.#reservedOnNode.delete(nodeId);
    else this.#reservedOnNode.set(nodeId, now);
  }

  #putSlot(state: SlotState): void {
    this.#slots.set(slotKey(state), state);
    this.#slotsByService.put(state.serviceId, String(state.slot), state);
  }

  #deleteSlot(s: { serviceId: string; slot: number }): void {
    this.#slots.delete(slotKey(s));
    this.#slotsByService.delete(s.serviceId, String(s.slot));
  }

  #putService(service: Service): void {
    const before = this.#services.get(service.id);
    if (before) this.#serviceIdByName.delete(before.spec.name);
    this.#services.set(service.id, service);
    this.#serviceIdByName.set(service.spec.name, service.id);
  }

  services(): Iterable<Service> {
    return this.#services.values();
  }
  service(id: string): Service | undefined {
    return this.#services.get(id);
  }
  serviceByName(name: string): Service | undefined {
    const id = this.#serviceIdByName.get(name);
    return id === undefined ? undefined : this.#services.get(id);
  }
  tasks(): Iterable<Task> {
    return this.#tasks.values();
  }
  task(id: string): Task | undefined {
    return this.#tasks.get(id);
  }
  tasksOfService(serviceId: string): Task[] {
    return this.#tasksByService.of(serviceId);
  }
  tasksOfNode(nodeId: string): Task[] {
    return this.#tasksByNode.of(nodeId);
  }
  liveTasksOnNode(nodeId: string): number {
    return this.#liveOnNode.get(nodeId) ?? 0;
  }
  reservedOnNode(nodeId: string): Capacity {
    return this.#reservedOnNode.get(nodeId) ?? NO_RESOURCES.reservations;
  }
  slots(): Iterable<SlotState> {
    return this.#slots.values();
  }
  slotsOfService(serviceId: string): SlotState[] {
    return this.#slotsByService.of(serviceId);
  }
  serviceStates(): Iterable<ServiceState> {
    return this.#serviceStates.values();
  }
  serviceState(serviceId: string): ServiceState | undefined {
    return this.#serviceStates.get(serviceId);
  }
  events(): readonly WarrenEvent[] {
    return this.#events;
  }
  health(taskId: string): TaskHealthRecords {
    return this.#health.get(taskId) ?? NO_HEALTH;
  }
  nodes(): Iterable<NodeRecord> {
    return this.#nodes.values();
  }
  node(id: string): NodeRecord | undefined {
    return this.#nodes.get(id);
  }
  nodeByName(name: string): NodeRecord | undefined {
    for (const node of this.#nodes.values()) if (node.name === name && !node.removedAt) return node;
    return undefined;
  }
  meta(key: string): string | undefined {
    return this.#meta.get(key);
  }
  registryAuth(serviceId: string): RegistryAuth | undefined {
    return this.#auths.get(serviceId);
  }
}

/** A phase before its first result. */
export const EMPTY_PHASE: PhaseState = {
  status: 'starting',
  successStreak: 0,
  failureStreak: 0,
  everSucceeded: false,
  lastTransitionAt: 0,
  lastTransitionFrom: '',
};

/** A task that should run, on the node it was assigned to: it counts in the node's load. */
function runsOnItsNode(task: Task): boolean {
  return task.nodeId !== '' && task.desiredState === 'running' && !isTerminal(task.state);
}

export function slotKey(s: { serviceId: string; slot: number }): string {
  return `${s.serviceId}/${s.slot}`;
}

/** Records written before services could publish ports or had update policies get the defaults. */
function withPorts<T extends { spec: ServiceSpec }>(record: T): T {
  const { spec } = record;
  if (spec.ports && spec.update && spec.rollback && spec.forceUpdate !== undefined) return record;
  const defaults = { ports: [], update: UPDATE_DEFAULTS, rollback: ROLLBACK_DEFAULTS, forceUpdate: 0 };
  return { ...record, spec: { ...defaults, ...spec } };
}

export { withPorts };
