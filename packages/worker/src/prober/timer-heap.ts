import TinyQueue from 'tinyqueue';

/** A scheduled item; cancel it with `TimerHeap.cancel`. */
export interface TimerEntry<T> {
  readonly at: number;
  readonly item: T;
  cancelled: boolean;
}

/**
 * One timer for any number of scheduled items: a binary min-heap on due time (tinyqueue), with a single
 * `setTimeout` armed for the earliest (items already due run in a microtask, at once).
 * Cancelling is lazy (the entry is skipped when it comes up). Items due at the same time run in
 * the order they were scheduled.
 */
export class TimerHeap<T> {
  readonly #heap = new TinyQueue<TimerEntry<T> & { seq: number }>([], (x, y) => x.at - y.at || x.seq - y.seq);
  #seq = 0;
  #timer: NodeJS.Timeout | undefined;
  #armedFor = Infinity;
  #fireQueued = false;
  #stopped = false;

  constructor(
    private readonly now: () => number,
    private readonly onDue: (item: T, plannedAt: number) => void,
  ) {}

  get size(): number {
    return this.#heap.length;
  }

  schedule(at: number, item: T): TimerEntry<T> {
    const entry = { at, item, cancelled: false, seq: this.#seq++ };
    this.#heap.push(entry);
    if (at < this.#armedFor) this.#arm();
    return entry;
  }

  cancel(entry: TimerEntry<T>): void {
    entry.cancelled = true;
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    while (this.#heap.length > 0) this.#heap.pop();
  }

  #arm(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#armedFor = Infinity;
    if (this.#stopped) return;
    while (this.#heap.peek()?.cancelled) this.#heap.pop();
    const top = this.#heap.peek();
    if (!top) return;
    this.#armedFor = top.at;
    const delay = top.at - this.now();
    if (delay > 0) this.#timer = setTimeout(() => this.#fire(), delay);
    else if (!this.#fireQueued) {
      // Already due: run now, not after a timer's minimum delay of 1 ms.
      this.#fireQueued = true;
      queueMicrotask(() => {
        this.#fireQueued = false;
        this.#fire();
      });
    }
  }

  #fire(): void {
    this.#armedFor = Infinity;
    const now = this.now();
    while ((this.#heap.peek()?.at ?? Infinity) <= now && !this.#stopped) {
      const entry = this.#heap.pop()!;
      if (!entry.cancelled) this.onDue(entry.item, entry.at);
    }
    this.#arm();
  }
}
