import { Level } from 'level';
import {
  EVENTS_KEPT,
  PHASES,
  RESULTS_KEPT,
  type EventDraft,
  type Phase,
  type PhaseRecord,
  type PhaseState,
  type ProbeResult,
  type Service,
  type ServiceState,
  type SlotState,
  type Task,
  type TaskHealthRecords,
  type WarrenEvent,
} from '@warren/core';

/**
 * The manager's state in LevelDB, with an in-memory mirror for reads.
 *
 * Keys (UTF-8 strings) and values (JSON):
 *   service:<id>  → Service      the desired state the user asked for
 *   task:<id>     → Task         one per replica slot and attempt, live and ended (history)
 *   node:<id>     → NodeRecord   every worker that ever registered
 *   health:<task id>:<phase> → PhaseState + ring position   a phase's state
 *   result:<task id>:<phase>:<0-9> → ProbeResult  its last 10 results, a ring: each result is
 *                                written once, so an update costs a small state and its new
 *                                results, not the whole history. Both deleted with their task.
 *   slot:<service id>:<slot> → SlotState     failures in a row, backoff, given up
 *   svcstate:<service id>    → ServiceState  correlated failure flag
 *   event:<seq, 16 digits>   → WarrenEvent   the newest 10,000 events, in order
 *   meta:<name>   → string       e.g. meta:join-token
 *
 * The manager is the only writer. All writes go through `mutate`, one at a time: a mutation
 * reads the current state, returns the changes it wants, and those are written as one atomic
 * batch (fsynced) before the mirror is updated and listeners are told. So validation and write
 * cannot interleave with another request, and a crash leaves either all of a mutation or none.
 * Service names are unique; the name index lives only in memory, rebuilt at open.
 */

export interface NodeRecord {
  id: string;
  name: string;
  hostname: string;
  registeredAt: number;
  lastSeenAt: number;
  /** Image tags and ids on the node, as last reported. */
  images: string[];
  /** `drain`: tasks move away and none are placed here. */
  availability: 'active' | 'drain';
  /** As declared by the node monitor. */
  status: 'ready' | 'down';
  /** Status changes, newest last (the last 20). */
  history: Array<{ at: number; status: string; reason: string }>;
}

export type Change =
  | { kind: 'putService'; service: Service }
  | { kind: 'deleteService'; service: Service }
  | { kind: 'putTask'; task: Task }
  | { kind: 'deleteTask'; task: Task }
  | { kind: 'putNode'; node: NodeRecord }
  /** `record` holds the last results; `added` of them are new and get written. */
  | { kind: 'putHealth'; taskId: string; phase: Phase; record: PhaseRecord; added: number }
  | { kind: 'putSlot'; state: SlotState }
  | { kind: 'deleteSlot'; serviceId: string; slot: number }
  | { kind: 'putServiceState'; state: ServiceState }
  | { kind: 'deleteServiceState'; serviceId: string }
  /** Numbered and stamped by the store when the batch is written. */
  | { kind: 'event'; event: EventDraft }
  | { kind: 'putMeta'; key: string; value: string };

export interface StoreView {
  services(): Iterable<Service>;
  service(id: string): Service | undefined;
  serviceByName(name: string): Service | undefined;
  tasks(): Iterable<Task>;
  task(id: string): Task | undefined;
  tasksOfService(serviceId: string): Task[];
  tasksOfNode(nodeId: string): Task[];
  /** The health the manager knows of a task, per phase. */
  health(taskId: string): TaskHealthRecords;
  slots(): Iterable<SlotState>;
  serviceStates(): Iterable<ServiceState>;
  serviceState(serviceId: string): ServiceState | undefined;
  /** Kept events, oldest first. */
  events(): readonly WarrenEvent[];
  nodes(): Iterable<NodeRecord>;
  node(id: string): NodeRecord | undefined;
  nodeByName(name: string): NodeRecord | undefined;
  meta(key: string): string | undefined;
}

export type CommitListener = (changes: readonly Change[], events: readonly WarrenEvent[]) => void;

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
      const service = value as Service;
      this.#services.set(id, service);
      this.#serviceIdByName.set(service.spec.name, id);
    } else if (kind === 'task') this.#tasks.set(id, value as Task);
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
      const record = records[phase] ?? { status: 'starting', successStreak: 0, failureStreak: 0, everSucceeded: false, lastTransitionAt: 0, lastTransitionFrom: '', results: [] };
      record.results.push(value as ProbeResult);
      this.#health.set(taskId, { ...records, [phase]: record });
    }
    else if (kind === 'meta') this.#meta.set(id, value as string);
  }

  /**
   * Runs `fn` alone against the current state and writes what it returns atomically.
   * If `fn` throws, nothing is written and the error is passed on.
   */
  mutate<T>(fn: (view: StoreView) => { changes: Change[]; result: T } | Promise<{ changes: Change[]; result: T }>): Promise<T> {
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
    type Op = { type: 'put'; key: string; value: unknown } | { type: 'del'; key: string };
    const at = Date.now();
    const events: WarrenEvent[] = [];
    const ops = changes.flatMap((c): Op | Op[] => {
      switch (c.kind) {
        case 'event': {
          const event: WarrenEvent = { ...c.event, seq: this.#nextSeq + events.length, at };
          events.push(event);
          return { type: 'put', key: eventKey(event.seq), value: event };
        }
        case 'putSlot':
          return { type: 'put', key: `slot:${c.state.serviceId}:${c.state.slot}`, value: c.state };
        case 'deleteSlot':
          return { type: 'del', key: `slot:${c.serviceId}:${c.slot}` };
        case 'putServiceState':
          return { type: 'put', key: `svcstate:${c.state.serviceId}`, value: c.state };
        case 'deleteServiceState':
          return { type: 'del', key: `svcstate:${c.serviceId}` };
        case 'putService':
          return { type: 'put' as const, key: `service:${c.service.id}`, value: c.service };
        case 'deleteService':
          return { type: 'del' as const, key: `service:${c.service.id}` };
        case 'putTask':
          return { type: 'put' as const, key: `task:${c.task.id}`, value: c.task };
        case 'deleteTask':
          return [
            { type: 'del', key: `task:${c.task.id}` },
            ...PHASES.flatMap((p): Op[] => [{ type: 'del', key: `health:${c.task.id}:${p}` }, ...RING.map((n): Op => ({ type: 'del', key: `result:${c.task.id}:${p}:${n}` }))]),
          ];
        case 'putHealth': {
          const ringKey = `${c.taskId}:${c.phase}`;
          let ring = this.#ring.get(ringKey) ?? 0;
          const { results, ...state } = c.record;
          const ops: Op[] = results.slice(results.length - Math.min(c.added, results.length)).map((result): Op => {
            const op: Op = { type: 'put', key: `result:${ringKey}:${ring}`, value: result };
            ring = (ring + 1) % RESULTS_KEPT;
            return op;
          });
          this.#ring.set(ringKey, ring);
          ops.push({ type: 'put', key: `health:${ringKey}`, value: { ...state, ring } });
          return ops;
        }
        case 'putNode':
          return { type: 'put' as const, key: `node:${c.node.id}`, value: c.node };
        case 'putMeta':
          return { type: 'put' as const, key: `meta:${c.key}`, value: c.value };
      }
    });
    const overflow = this.#events.length + events.length - EVENTS_KEPT;
    for (const old of overflow > 0 ? this.#events.slice(0, overflow) : []) ops.push({ type: 'del', key: eventKey(old.seq) });
    // A chained batch: the same atomic write, without the array form's per-operation
    // preparation (measured: about 4 times the operations per second).
    const batch = this.#db.batch();
    for (const op of ops) {
      if (op.type === 'put') batch.put(op.key, op.value);
      else batch.del(op.key);
    }
    await batch.write({ sync: true });
    this.#nextSeq += events.length;
    if (events.length > 0) this.#events = overflow > 0 ? [...this.#events.slice(overflow), ...events] : [...this.#events, ...events];
    for (const c of changes) {
      if (c.kind === 'putService') {
        const before = this.#services.get(c.service.id);
        if (before) this.#serviceIdByName.delete(before.spec.name);
        this.#services.set(c.service.id, c.service);
        this.#serviceIdByName.set(c.service.spec.name, c.service.id);
      } else if (c.kind === 'deleteService') {
        this.#services.delete(c.service.id);
        this.#serviceIdByName.delete(c.service.spec.name);
      } else if (c.kind === 'putTask') this.#tasks.set(c.task.id, c.task);
      else if (c.kind === 'deleteTask') {
        this.#tasks.delete(c.task.id);
        this.#health.delete(c.task.id);
      } else if (c.kind === 'putHealth') this.#health.set(c.taskId, { ...this.#health.get(c.taskId), [c.phase]: c.record });
      else if (c.kind === 'putNode') this.#nodes.set(c.node.id, c.node);
      else if (c.kind === 'putSlot') this.#slots.set(slotKey(c.state), c.state);
      else if (c.kind === 'deleteSlot') this.#slots.delete(slotKey(c));
      else if (c.kind === 'putServiceState') this.#serviceStates.set(c.state.serviceId, c.state);
      else if (c.kind === 'deleteServiceState') this.#serviceStates.delete(c.serviceId);
      else if (c.kind === 'putMeta') this.#meta.set(c.key, c.value);
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
    for (const node of this.#nodes.values()) if (node.name === name) return node;
    return undefined;
  }
  meta(key: string): string | undefined {
    return this.#meta.get(key);
  }
}

function slotKey(s: { serviceId: string; slot: number }): string {
  return `${s.serviceId}/${s.slot}`;
}

function eventKey(seq: number): string {
  return `event:${String(seq).padStart(16, '0')}`;
}

const RING = Array.from({ length: RESULTS_KEPT }, (_, n) => n);
