import { performance } from 'node:perf_hooks';

/**
 * What the proxy knows of its endpoints across every port, by address: the connections it has
 * open to each (to choose the least loaded) and those that failed a moment ago (ejected, so
 * that new connections skip them until `ejectMs` has passed). A port's own endpoint list is the
 * table's; this only ranks it.
 */
export class EndpointPool {
  readonly #active = new Map<string, number>();
  readonly #ejectedUntil = new Map<string, number>();

  constructor(
    private readonly ejectMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /**
   * The address of `addresses`, not in `tried`, with the fewest connections, ties broken at
   * random. Ejected ones are skipped, unless every one left is ejected: an endpoint that failed
   * a moment ago may answer now, while refusing the client certainly fails it.
   */
  choose(addresses: readonly string[], tried: ReadonlySet<string>): string | undefined {
    const untried = addresses.filter((a) => !tried.has(a));
    const healthy = untried.filter((a) => !this.isEjected(a));
    const candidates = healthy.length > 0 ? healthy : untried;
    let best: string[] = [];
    let fewest = Infinity;
    for (const address of candidates) {
      const active = this.#active.get(address) ?? 0;
      if (active < fewest) {
        fewest = active;
        best = [address];
      } else if (active === fewest) {
        best.push(address);
      }
    }
    return best[Math.floor(Math.random() * best.length)];
  }

  /** Counts one connection to `address` until the returned function is called (once counts). */
  acquire(address: string): () => void {
    this.#active.set(address, (this.#active.get(address) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.#active.get(address) ?? 1) - 1;
      if (left > 0) this.#active.set(address, left);
      else this.#active.delete(address);
    };
  }

  /** Skips `address` for the next `ejectMs`; true when it was not ejected already. */
  eject(address: string): boolean {
    const fresh = !this.isEjected(address);
    this.#ejectedUntil.set(address, this.now() + this.ejectMs);
    return fresh;
  }

  isEjected(address: string): boolean {
    const until = this.#ejectedUntil.get(address);
    if (until === undefined) return false;
    if (until > this.now()) return true;
    this.#ejectedUntil.delete(address);
    return false;
  }

  /** Forgets the ejections of addresses that no port lists any more. */
  retain(addresses: ReadonlySet<string>): void {
    for (const address of this.#ejectedUntil.keys()) {
      if (!addresses.has(address)) this.#ejectedUntil.delete(address);
    }
  }

  /** Connections open (or being opened) to each address; addresses with none are absent. */
  get active(): ReadonlyMap<string, number> {
    return new Map(this.#active);
  }
}
