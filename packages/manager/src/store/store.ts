import { Level } from 'level';
import {
  EVENTS_KEPT,
  ROLLBACK_DEFAULTS,
  UPDATE_DEFAULTS,
  type EventDraft,
  type Phase,
  type PhaseState,
  type RegistryAuth,
  type ProbeResult,
  type Service,
  type ServiceSpec,
  type ServiceState,
  type SlotState,
  type Task,
  type TaskHealthRecords,
  type WarrenEvent,
} from '@warren/core';
import { encodeChange, eventKey } from './layout.js';
import type { Change, CommitListener, NodeRecord, StoreView } from './types.js';

export type { Change, CommitListener, NodeRecord, StoreView } from './types.js';

/**
 * The manager's state in LevelDB, with an in-memory mirror for reads.
 *
 * Its keys and values: store-layout.ts.
 *
 * The manager is the only writer. All writes go through `mutate`, one at a time: a mutation
 * reads the current state, returns the changes it wants, and those are written as one atomic
 * batch (fsynced) before the mirror is updated and listeners are told. So validation and write
 * cannot interleave with another request, and a crash leaves either all of a mutation or none.
 * Service names are unique; the name index lives only in memory, rebuilt at open.
 */

export class Store implements StoreView {
  readonly #db: Level<string, unknown>;
  readonly #services = new Map<string, Service>();
  readonly #serviceIdByName = new Map<string, string>();
  readonly #tasks = new Map<string, Task>();
  readonly #nodes = new Map<string, NodeRecord>();
  readonly #health = new Map<string, TaskHealthRecords>();
  /** Ring position of the next result per task and phase (`<task>:<phase>`). */
  readonly #ring = new Map<string, number>();
  readonly #slots = new Map<string, SlotState>();
  readonly #serviceStates = new Map<string, ServiceState>();
  #events: WarrenEvent[] = [];
  #nextSeq = 1;
  readonly #meta = new Map<string, string>();
  readonly #auths = new Map<string, RegistryAuth>();
  readonly #listeners = new Set<CommitListener>();
  #queue: Promise<unknown> = Promise.resolve();

  private constructor(db: Level<string, unknown>) {
    this.#db = db;
  }

  static async open(dir: string): Promise<Store> {
    const db = new Level<string, unknown>(dir, { valueEncoding: 'json' });
    await db.open();
    const store = new Store(db);
    for await (const [key, value] of db.iterator()) store.#load(key, value);
    store.#nextSeq = (store.#events.at(-1)?.seq ?? 0) + 1;
    for (const records of store.#health.values()) {
      for (const record of Object.values(records)) record.results.sort((a, b) => a.at - b.at);
    }
    return store;
  }

  #load(key: string, value: unknown): void {
    const sep = key.indexOf(':');
    const kind = key.slice(0, sep);
    const id = key.slice(sep + 1);
    if (kind === 'service') {
      const service = withPorts(value as Service);
      this.#services.set(id, service);
      this.#serviceIdByName.set(service.spec.name, id);
    } else if (kind === 'task') this.#tasks.set(id, withPorts(value as Task));
    else if (kind === 'node') this.#nodes.set(id, value as NodeRecord);
    else if (kind === 'slot') this.#slots.set(slotKey(value as SlotState), value as SlotState);
    else if (kind === 'svcstate') this.#serviceStates.set(id, value as ServiceState);
    else if (kind === 'event') this.#events.push(value as WarrenEvent);
    else if (kind === 'health') {
      const [taskId, phase] = id.split(':') as [string, Phase];
      const { ring, ...state } = value as PhaseState & { ring: number };
      const known = this.#health.get(taskId)?.[phase];
      this.#health.set(taskId, { ...this.#health.get(taskId), [phase]: { ...state, results: known?.results ?? [] } });
      this.#ring.set(`${taskId}:${phase}`, ring);
    } else if (kind === 'result') {
      const [taskId, phase] = id.split(':') as [string, Phase];
      const records = this.#health.get(taskId) ?? {};
      const record = records[phase] ?? {
        status: 'starting',
        successStreak: 0,
        failureStreak: 0,
        everSucceeded: false,
        lastTransitionAt: 0,
        lastTransitionFrom: '',
        results: [],
      };
      record.results.push(value as ProbeResult);
      this.#health.set(taskId, { ...records, [phase]: record });
    } else if (kind === 'meta') this.#meta.set(id, value as string);
    else if (kind === 'auth') this.#auths.set(id, value as RegistryAuth);
  }

  /**
   * Runs `fn` alone against the current state and writes what it returns atomically.
   * If `fn` throws, nothing is written and the error is passed on.
   */
  mutate<T>(
    fn: (view: StoreView) => { changes: Change[]; result: T } | Promise<{ changes: Change[]; result: T }>,
  ): Promise<T> {
    const run = async (): Promise<T> => {
      const { changes, result } = await fn(this);
      if (changes.length > 0) await this.#commit(changes);
      return result;
    };
    const next = this.#queue.then(run, run);
    this.#queue = next.catch(() => undefined);
    return next;
  }

  async #commit(changes: Change[]): Promise<void> {
    const at = Date.now();
    const events: WarrenEvent[] = [];
    const stamp = (draft: EventDraft): WarrenEvent => {
      const event: WarrenEvent = { ...draft, seq: this.#nextSeq + events.length, at };
      events.push(event);
      return event;
    };
    const ops = changes.flatMap((c) => encodeChange(c, this.#ring, stamp));
    const overflow = this.#events.length + events.length - EVENTS_KEPT;
    for (const old of overflow > 0 ? this.#events.slice(0, overflow) : [])
      ops.push({ type: 'del', key: eventKey(old.seq) });
    // A chained batch: the same atomic write, without the array form's per-operation
    // preparation (measured: about 4 times the operations per second).
    const batch = this.#db.batch();
    for (const op of ops) {
      if (op.type === 'put') batch.put(op.key, op.value);
      else batch.del(op.key);
    }
    await batch.write({ sync: true });
    this.#nextSeq += events.length;
    if (events.length > 0)
      this.#events = overflow > 0 ? [...this.#events.slice(overflow), ...events] : [...this.#events, ...events];
    for (const c of changes) {
      if (c.kind === 'putService') {
        const before = this.#services.get(c.service.id);
        if (before) this.#serviceIdByName.delete(before.spec.name);
        this.#services.set(c.service.id, c.service);
        this.#serviceIdByName.set(c.service.spec.name, c.service.id);
      } else if (c.kind === 'deleteService') {
        this.#services.delete(c.service.id);
        this.#serviceIdByName.delete(c.service.spec.name);
        this.#auths.delete(c.service.id);
      } else if (c.kind === 'putTask') this.#tasks.set(c.task.id, c.task);
      else if (c.kind === 'deleteTask') {
        this.#tasks.delete(c.task.id);
        this.#health.delete(c.task.id);
      } else if (c.kind === 'putHealth')
        this.#health.set(c.taskId, { ...this.#health.get(c.taskId), [c.phase]: c.record });
      else if (c.kind === 'putNode') this.#nodes.set(c.node.id, c.node);
      else if (c.kind === 'putSlot') this.#slots.set(slotKey(c.state), c.state);
      else if (c.kind === 'deleteSlot') this.#slots.delete(slotKey(c));
      else if (c.kind === 'putServiceState') this.#serviceStates.set(c.state.serviceId, c.state);
      else if (c.kind === 'deleteServiceState') this.#serviceStates.delete(c.serviceId);
      else if (c.kind === 'putMeta') this.#meta.set(c.key, c.value);
      else if (c.kind === 'putAuth') this.#auths.set(c.serviceId, c.auth);
    }
    for (const listener of this.#listeners) listener(changes, events);
  }

  /** Called after every commit with its changes. Returns the unsubscribe function. */
  onCommit(listener: CommitListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** A real write and read of LevelDB, for the health check (not through `mutate`). */
  async check(): Promise<void> {
    const value = String(Date.now());
    await this.#db.put('meta:healthcheck', value, { sync: true });
    if ((await this.#db.get('meta:healthcheck')) !== value) throw new Error('read back a different value');
  }

  /** Waits for queued mutations, then closes the database. */
  async close(): Promise<void> {
    await this.#queue;
    await this.#db.close();
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
    return [...this.#tasks.values()].filter((t) => t.serviceId === serviceId);
  }
  tasksOfNode(nodeId: string): Task[] {
    return [...this.#tasks.values()].filter((t) => t.nodeId === nodeId);
  }
  slots(): Iterable<SlotState> {
    return this.#slots.values();
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
    return this.#health.get(taskId) ?? {};
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

function slotKey(s: { serviceId: string; slot: number }): string {
  return `${s.serviceId}/${s.slot}`;
}

/** Records written before services could publish ports or had update policies get the defaults. */
function withPorts<T extends { spec: ServiceSpec }>(record: T): T {
  const { spec } = record;
  if (spec.ports && spec.update && spec.rollback && spec.forceUpdate !== undefined) return record;
  const defaults = { ports: [], update: UPDATE_DEFAULTS, rollback: ROLLBACK_DEFAULTS, forceUpdate: 0 };
  return { ...record, spec: { ...defaults, ...spec } };
}
