/**
 * Group commit: items submitted while a write is under way wait, and the next write takes all
 * of them at once (one fsynced batch for however many arrived). `write` answers each item: a
 * value, or an Error that refuses that item alone; a write that throws fails all of its items.
 */
export class GroupCommit<T, R> {
  #queue: Array<{ item: T; done: (result: R) => void; failed: (err: unknown) => void }> = [];
  #writing = false;

  constructor(private readonly write: (items: T[]) => Promise<Array<R | Error>>) {}

  submit(item: T): Promise<R> {
    return new Promise((done, failed) => {
      this.#queue.push({ item, done, failed });
      if (!this.#writing) void this.#drain();
    });
  }

  async #drain(): Promise<void> {
    this.#writing = true;
    while (this.#queue.length > 0) {
      const queued = this.#queue;
      this.#queue = [];
      try {
        const results = await this.write(queued.map((q) => q.item));
        queued.forEach((q, i) => {
          const result = results[i] as R | Error;
          if (result instanceof Error) q.failed(result);
          else q.done(result);
        });
      } catch (err) {
        for (const q of queued) q.failed(err);
      }
    }
    this.#writing = false;
  }
}
