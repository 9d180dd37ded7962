import { isTerminal, reservationOf } from '@warren/core';
import type { Change } from './store/store.js';

/** Every service: a pass over the whole state. */
export const ALL = 'all';
export type Scope = typeof ALL | ReadonlySet<string>;

/**
 * What the next reconcile pass must look at (DESIGN 10: cost follows change). A service is looked
 * at again when something it is decided on changed — its record, one of its tasks, slots or
 * state, a health transition of one of its tasks — or when the time it asked for has come (a
 * backoff ends, a rollout's monitor period ends). A change that can move any service (a node's
 * status, availability, engine or images; a new term) makes the next pass look at all of them.
 */
export class PassScope {
  #all = true;
  readonly #changed = new Set<string>();
  /** When each service asked to be looked at again. */
  #wakes = new Map<string, number>();
  /** Services with a task waiting for room on a node: looked at again when a reservation is freed. */
  #waitingForRoom = new Set<string>();

  /** Notes a commit's changes. Returns whether any of them asks for a pass. */
  note(changes: readonly Change[]): boolean {
    let any = false;
    for (const change of changes) {
      if (freesRoom(change)) for (const waiting of this.#waitingForRoom) this.#changed.add(waiting);
      const id = serviceOf(change);
      if (id === undefined) continue;
      any = true;
      if (id === ALL) this.#all = true;
      else this.#changed.add(id);
    }
    return any;
  }

  /** The next pass looks at every service. */
  all(): void {
    this.#all = true;
  }

  /** What a pass starting at `now` looks at; from then on, only later changes are noted. */
  take(now: number): Scope {
    if (this.#all) {
      this.#all = false;
      this.#changed.clear();
      return ALL;
    }
    const ids = new Set(this.#changed);
    this.#changed.clear();
    for (const [id, at] of this.#wakes) if (at <= now) ids.add(id);
    return ids;
  }

  /**
   * After a pass over `scope`: the times its services asked to be looked at again, and those of
   * them waiting for room.
   */
  settle(scope: Scope, wakes: ReadonlyMap<string, number>, waitingForRoom: ReadonlySet<string> = new Set()): void {
    if (scope === ALL) {
      this.#wakes = new Map(wakes);
      this.#waitingForRoom = new Set(waitingForRoom);
    } else {
      for (const id of scope) {
        this.#wakes.delete(id);
        this.#waitingForRoom.delete(id);
      }
      for (const [id, at] of wakes) this.#wakes.set(id, at);
      for (const id of waitingForRoom) this.#waitingForRoom.add(id);
    }
  }

  /** The earliest time a service asked for (Infinity: none). */
  nextWake(): number {
    let next = Infinity;
    for (const at of this.#wakes.values()) if (at < next) next = at;
    return next;
  }
}

/** The service a change concerns, ALL for one that concerns every service, undefined for none. */
function serviceOf(change: Change): string | undefined {
  switch (change.kind) {
    case 'putService':
    case 'deleteService':
      return change.service.id;
    case 'putTask':
    case 'deleteTask':
      return change.task.serviceId;
    case 'putSlot':
    case 'putServiceState':
      return change.state.serviceId;
    case 'deleteSlot':
    case 'deleteServiceState':
    case 'putAuth':
      return change.serviceId;
    case 'event':
      // A health transition changes no task record: its event says which service to look at.
      return change.event.serviceId || undefined;
    case 'putNode':
      return ALL;
    case 'putHealth':
    case 'putMeta':
      return undefined;
  }
}

/** A task with a reservation that ended or was deleted: its node may have room for a waiting one. */
function freesRoom(change: Change): boolean {
  if (change.kind !== 'putTask' && change.kind !== 'deleteTask') return false;
  const { task } = change;
  const need = reservationOf(task.spec);
  if (need.nanoCpus === 0 && need.memoryBytes === 0) return false;
  return change.kind === 'deleteTask' || isTerminal(task.state);
}
