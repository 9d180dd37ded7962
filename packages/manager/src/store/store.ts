import { EVENTS_KEPT, type EventDraft, type ProbeResult, type WarrenEvent } from '@warren/core';
import type { Op, StoreBackend } from './backend.js';
import { LevelBackend } from './leveldb/backend.js';
import { encodeChange, eventKey } from './layout.js';
import { MemoryState } from './memory.js';
import { decodeOps } from './remote.js';
import type { Change, CommitListener, StoreView } from './types.js';

export type { Change, CommitListener, NodeRecord, StoreView } from './types.js';

/**
 * The manager's state in memory, kept in a backend (backend.ts: LevelDB or etcd).
 *
 * Its keys and values: layout.ts.
 *
 * The manager (the leader, with etcd) is the only writer. All writes go through `mutate`, one
 * at a time: a mutation reads the current state, returns the changes it wants, and those are
 * written (LevelDB: one fsynced batch; etcd: fenced transactions) before the memory is updated
 * and listeners are told. So validation and write cannot interleave with another request, and a
 * crash leaves either all of a mutation or none. Service names are unique; the name index lives
 * only in memory, rebuilt at open.
 */

export class Store extends MemoryState {
  readonly #backend: StoreBackend;
  #nextSeq = 1;
  readonly #listeners = new Set<CommitListener>();
  #queue: Promise<unknown> = Promise.resolve();
  /** A follower's rings of results by position (remote.ts). */
  readonly #remoteResults = new Map<string, Array<ProbeResult | undefined>>();

  private constructor(backend: StoreBackend) {
    super();
    this.#backend = backend;
  }

  /** The state in LevelDB in `dir` (the embedded default). */
  static async open(dir: string): Promise<Store> {
    return Store.load(await LevelBackend.open(dir));
  }

  /** The state as `backend` holds it. */
  static async load(backend: StoreBackend): Promise<Store> {
    const store = new Store(backend);
    for await (const [key, value] of backend.load()) store.loadEntry(key, value);
    store.finishLoad();
    store.#nextSeq = (store.events().at(-1)?.seq ?? 0) + 1;
    return store;
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
    const now: Op[] = [];
    const later: Op[] = [];
    for (const c of changes) {
      const ops = encodeChange(c, this.ring, stamp);
      const into = c.kind === 'putHealth' && c.coalesce === true ? later : now;
      if (Array.isArray(ops)) into.push(...ops);
      else into.push(ops);
    }
    const kept = this.events();
    const overflow = kept.length + events.length - EVENTS_KEPT;
    for (const old of overflow > 0 ? kept.slice(0, overflow) : []) now.push({ type: 'del', key: eventKey(old.seq) });
    await this.#backend.write(now, later);
    this.#nextSeq += events.length;
    this.apply(changes, events);
    for (const listener of this.#listeners) listener(changes, events);
  }

  /**
   * A follower takes in what the leader wrote (key operations as etcd reports them, in order):
   * its memory follows, and its listeners hear the changes and events as the leader's did.
   */
  applyRemote(ops: readonly Op[]): void {
    const { changes, events, droppedThrough } = decodeOps(ops, this, this.#remoteResults);
    if (droppedThrough > 0) this.dropEventsThrough(droppedThrough);
    this.apply(changes, events);
    this.#nextSeq = Math.max(this.#nextSeq, (events.at(-1)?.seq ?? 0) + 1);
    if (changes.length > 0 || events.length > 0) for (const listener of this.#listeners) listener(changes, events);
  }

  /**
   * Loads everything again from the backend (a follower whose watch could not go on, a leader that
   * stopped leading): memory is the backend's, and listeners hear that something changed.
   */
  async reload(): Promise<void> {
    const entries: Array<[string, unknown]> = [];
    for await (const entry of this.#backend.load()) entries.push(entry);
    this.clear();
    this.#remoteResults.clear();
    for (const [key, value] of entries) this.loadEntry(key, value);
    this.finishLoad();
    this.#nextSeq = (this.events().at(-1)?.seq ?? 0) + 1;
    for (const listener of this.#listeners) listener([], []);
  }

  /** Called after every commit with its changes. Returns the unsubscribe function. */
  onCommit(listener: CommitListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** A real write and read of the backend, for the health check (not through `mutate`). */
  check(): Promise<void> {
    return this.#backend.check();
  }

  /** Waits for queued mutations, then closes the backend. */
  async close(): Promise<void> {
    await this.#queue;
    await this.#backend.close();
  }
}
