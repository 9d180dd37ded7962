/** A scheduled item; cancel it with `TimerHeap.cancel`. */
export interface TimerEntry<T> {
  readonly at: number;
  readonly item: T;
  cancelled: boolean;
}

/**
 * One timer for any number of scheduled items: a binary min-heap on due time, with a single
 * `setTimeout` armed for the earliest (items already due run in a microtask, at once).
 * Cancelling is lazy (the entry is skipped when it comes up). Items due at the same time run in
 * the order they were scheduled.
 */
export class TimerHeap<T> {
  readonly #heap: Array<TimerEntry<T> & { seq: number }> = [];
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
    this.#up(this.#heap.length - 1);
    if (at < this.#armedFor) this.#arm();
    return entry;
  }

  cancel(entry: TimerEntry<T>): void {
    entry.cancelled = true;
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#heap.length = 0;
  }

  #arm(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#armedFor = Infinity;
    if (this.#stopped) return;
    while (this.#heap.length > 0 && this.#heap[0]!.cancelled) this.#pop();
    const top = this.#heap[0];
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
    while (this.#heap.length > 0 && this.#heap[0]!.at <= now && !this.#stopped) {
      const entry = this.#pop()!;
      if (!entry.cancelled) this.onDue(entry.item, entry.at);
    }
    this.#arm();
  }

  #pop(): (TimerEntry<T> & { seq: number }) | undefined {
    const heap = this.#heap;
    const top = heap[0];
    const last = heap.pop();
    if (heap.length > 0 && last) {
      heap[0] = last;
      this.#down(0);
    }
    return top;
  }

  #less(a: number, b: number): boolean {
    const x = this.#heap[a]!;
    const y = this.#heap[b]!;
    return x.at < y.at || (x.at === y.at && x.seq < y.seq);
  }

  #swap(a: number, b: number): void {
    const heap = this.#heap;
    [heap[a], heap[b]] = [heap[b]!, heap[a]!];
  }

  #up(i: number): void {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.#less(i, parent)) return;
      this.#swap(i, parent);
      i = parent;
    }
  }

  #down(i: number): void {
    const n = this.#heap.length;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let min = i;
      if (l < n && this.#less(l, min)) min = l;
      if (r < n && this.#less(r, min)) min = r;
      if (min === i) return;
      this.#swap(i, min);
      i = min;
    }
  }
}
