/** Something applied in order of versions. */
interface Versioned {
  version: number;
  /** Applies whatever the version: the first table of a new manager (its versions start anew). */
  baseline?: boolean;
}

interface Waiting<T, R> {
  item: T;
  waiters: Array<{ resolve: (result: R) => void; reject: (err: unknown) => void }>;
}

/**
 * Runs one item at a time. Items pushed while one runs wait, and only the newest of them runs
 * next: every caller of a replaced item is answered with the result of the one that replaced it.
 */
export class NewestFirstQueue<T extends Versioned, R> {
  #running: Promise<void> | undefined;
  #waiting: Waiting<T, R> | undefined;

  constructor(private readonly run: (item: T) => Promise<R>) {}

  /** True when nothing runs or waits. */
  get idle(): boolean {
    return !this.#running && !this.#waiting;
  }

  push(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      const waiting = (this.#waiting ??= { item, waiters: [] });
      if (item.baseline || item.version >= waiting.item.version) {
        waiting.item = waiting.item.baseline && !item.baseline ? { ...item, baseline: true } : item;
      }
      waiting.waiters.push({ resolve, reject });
      this.#next();
    });
  }

  /** Rejects the callers of what waits (with `reason`), and resolves when nothing runs. */
  async close(reason: Error): Promise<void> {
    const waiting = this.#waiting;
    this.#waiting = undefined;
    for (const waiter of waiting?.waiters ?? []) waiter.reject(reason);
    await this.#running;
  }

  #next(): void {
    const next = this.#waiting;
    if (this.#running || !next) return;
    this.#waiting = undefined;
    this.#running = this.run(next.item)
      .then(
        (result) => next.waiters.forEach((w) => w.resolve(result)),
        (err: unknown) => next.waiters.forEach((w) => w.reject(err)),
      )
      .finally(() => {
        this.#running = undefined;
        this.#next();
      });
  }
}
