/**
 * Items kept in groups (a service's tasks, a node's tasks), each group by the item's id: put,
 * move and delete cost the same however many items there are, and a group is read without
 * looking at the others.
 */
export class Grouped<T> {
  readonly #groups = new Map<string, Map<string, T>>();

  put(group: string, id: string, item: T): void {
    let members = this.#groups.get(group);
    if (!members) this.#groups.set(group, (members = new Map()));
    members.set(id, item);
  }

  delete(group: string, id: string): void {
    const members = this.#groups.get(group);
    if (!members?.delete(id)) return;
    if (members.size === 0) this.#groups.delete(group);
  }

  /** The items of `group`, in the order they were first put. */
  of(group: string): T[] {
    const members = this.#groups.get(group);
    return members ? [...members.values()] : [];
  }

  size(group: string): number {
    return this.#groups.get(group)?.size ?? 0;
  }

  clear(): void {
    this.#groups.clear();
  }
}
