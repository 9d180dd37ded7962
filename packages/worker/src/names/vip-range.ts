import { type VipRange } from '@warren/core';

/**
 * Which virtual IP each service has on this node. A service keeps its address while it is in the
 * table; a new one starts at a place its id chooses (so a worker that restarts gives most
 * services their old addresses again) and takes the next free one.
 */
export class VipAllocator {
  readonly #byService = new Map<string, number>();
  readonly #taken = new Set<number>();

  constructor(readonly range: VipRange) {}

  /** The virtual IP of each of `serviceIds` (undefined once the range is full); others are released. */
  assign(serviceIds: readonly string[]): Map<string, string | undefined> {
    const wanted = new Set(serviceIds);
    for (const [id, i] of this.#byService) {
      if (wanted.has(id)) continue;
      this.#byService.delete(id);
      this.#taken.delete(i);
    }
    const out = new Map<string, string | undefined>();
    for (const id of serviceIds) {
      let i = this.#byService.get(id);
      if (i === undefined) i = this.#take(id);
      out.set(id, i === undefined ? undefined : this.range.vip(i));
    }
    return out;
  }

  #take(id: string): number | undefined {
    const { size } = this.range;
    if (this.#taken.size >= size) return undefined;
    let i = hash(id) % size;
    while (this.#taken.has(i)) i = (i + 1) % size;
    this.#taken.add(i);
    this.#byService.set(id, i);
    return i;
  }
}

/** FNV-1a, 32 bits. */
function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}
