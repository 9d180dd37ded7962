/**
 * The state in etcd (DESIGN 9), under `<prefix>state/` with layout.ts's keys, values as JSON.
 *
 * - Only the leader writes, and every write is fenced: an etcd transaction that compares the
 *   leadership key's create revision with the one this manager won (leadership/), so a leader
 *   that was frozen or cut off can never write after its successor started. A failed compare
 *   is a FencedError, and the leadership steps down.
 * - etcd takes at most 128 operations per transaction by default (`--max-txn-ops`): a larger
 *   write goes in several fenced transactions, in order.
 * - Health runs without a transition are coalesced (`later`): the last value of each key is
 *   written at most FLUSH_MS later. A failover forgets at most that much of them; transitions and
 *   everything else are written before the write resolves.
 * - A follower loads the state and then follows the leader's writes (`follow`).
 */
import type { Etcd3, IOperation, Namespace } from 'etcd3';
import type { Logger } from 'pino';
import type { Op, StoreBackend } from '../backend.js';

/** What a leader's writes are fenced with: the leadership key and the create revision it won. */
export interface Fence {
  key: string;
  revision: string;
}

/** A write that was not this manager's to make: it does not lead (any more). */
export class FencedError extends Error {
  override readonly name = 'FencedError';
}

/** Operations per transaction, etcd's default `--max-txn-ops`. */
export const MAX_TXN_OPS = 128;
/** How long coalesced health runs may wait to be written. */
export const FLUSH_MS = 1000;

export class EtcdBackend implements StoreBackend {
  readonly #state: Namespace;
  #fence: Fence | undefined;
  readonly #pending = new Map<string, Op>();
  #flushTimer: NodeJS.Timeout | undefined;
  /** The flush under way: one at a time; runs that come meanwhile wait, coalesced, for the next. */
  #flushing: Promise<void> | undefined;
  /** Every transaction goes through here, in order: a flush never lands after a newer write of a key. */
  #queue: Promise<unknown> = Promise.resolve();
  /** The revision the last load read at: a follower follows from there. */
  loadedRevision = '0';
  /** The revision of the last transaction this leader wrote. */
  writtenRevision = '0';

  constructor(
    private readonly client: Etcd3,
    prefix: string,
    private readonly logger: Logger,
    /** Told when a write found that this manager no longer leads. */
    private readonly onFenced: (err: FencedError) => void = () => undefined,
  ) {
    this.#state = client.namespace(`${prefix}state/`);
  }

  /** Writes are this leader's from now on (undefined: it does not lead; writes are refused). */
  setFence(fence: Fence | undefined): void {
    this.#fence = fence;
    if (!fence) this.#pending.clear();
  }

  get fence(): Fence | undefined {
    return this.#fence;
  }

  async *load(): AsyncIterable<[string, unknown]> {
    const res = await this.#state.getAll().exec();
    this.loadedRevision = String(res.header.revision);
    for (const kv of res.kvs) yield [kv.key.toString(), JSON.parse(kv.value.toString())];
  }

  async write(now: readonly Op[], later: readonly Op[]): Promise<void> {
    if (!this.#fence) throw new FencedError('this manager does not lead: it writes nothing');
    for (const op of now) {
      if (op.type === 'delPrefix') {
        for (const key of [...this.#pending.keys()]) if (key.startsWith(op.key)) this.#pending.delete(key);
      } else this.#pending.delete(op.key);
    }
    for (const op of later) this.#pending.set(op.key, op);
    this.#flushSoon();
    await this.#serial(() => this.#commit(now));
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const done = this.#queue.then(fn);
    this.#queue = done.catch(() => undefined);
    return done;
  }

  #flushSoon(): void {
    if (this.#pending.size === 0 || this.#flushTimer || this.#flushing) return;
    this.#flushTimer = setTimeout(() => void this.flush(), FLUSH_MS);
    this.#flushTimer.unref();
  }

  /**
   * Writes the coalesced health runs now (the timer does it at most FLUSH_MS after they came).
   * One flush at a time: when etcd takes longer than FLUSH_MS, runs keep coalescing in `#pending`
   * (one entry per task and phase) instead of piling up flushes — memory stays bounded by tasks.
   */
  flush(): Promise<void> {
    clearTimeout(this.#flushTimer);
    this.#flushTimer = undefined;
    this.#flushing ??= this.#drain().finally(() => {
      this.#flushing = undefined;
      this.#flushSoon();
    });
    return this.#flushing;
  }

  /**
   * Writes what was pending when it began, a transaction at a time, each taking its operations
   * when its turn in the queue comes: a write of the same key given meanwhile (a transition) took
   * the key out of `#pending`, and is in the queue before any later run of it.
   */
  async #drain(): Promise<void> {
    let left = this.#pending.size;
    try {
      while (left > 0 && this.#pending.size > 0 && this.#fence) {
        await this.#serial(() => {
          const chunk: Op[] = [];
          for (const [key, op] of this.#pending) {
            if (chunk.length === MAX_TXN_OPS) break;
            chunk.push(op);
            this.#pending.delete(key);
          }
          left -= chunk.length;
          return this.#commit(chunk);
        });
      }
    } catch (err) {
      // What is still pending stays, for the next flush (or goes, when this manager was fenced).
      if (!(err instanceof FencedError)) this.logger.warn({ reason: (err as Error).message }, 'health flush failed');
    }
  }

  async #commit(ops: readonly Op[]): Promise<void> {
    for (let at = 0; at < ops.length; at += MAX_TXN_OPS) {
      const fence = this.#fence;
      if (!fence) throw new FencedError('this manager stopped leading');
      const chunk = ops.slice(at, at + MAX_TXN_OPS).map((op) => this.#operation(op));
      const res = await this.client
        .if(fence.key, 'Create', '==', fence.revision)
        .then(...chunk)
        .commit();
      if (res.succeeded) this.writtenRevision = String(res.header.revision);
      else {
        const err = new FencedError(
          `another manager leads now (${fence.key} is no longer revision ${fence.revision})`,
        );
        this.setFence(undefined);
        this.onFenced(err);
        throw err;
      }
    }
  }

  #operation(op: Op): IOperation {
    if (op.type === 'put') return this.#state.put(op.key).value(JSON.stringify(op.value));
    if (op.type === 'del') return this.#state.delete().key(op.key);
    return this.#state.delete().prefix(op.key);
  }

  /**
   * A follower's view of the leader's writes from `revision` on: `apply` gets each watch
   * response's operations in order. Resolves when `signal` aborts; rejects when the watch cannot
   * go on (its revision was compacted: load again).
   */
  async follow(revision: string, apply: (ops: Op[], revision: string) => void, signal: AbortSignal): Promise<void> {
    const watcher = await this.#state
      .watch()
      .prefix('')
      .startRevision(String(BigInt(revision) + 1n))
      .create();
    try {
      await new Promise<void>((resolve, reject) => {
        signal.addEventListener('abort', () => resolve(), { once: true });
        watcher.on('data', (res) => {
          const ops = res.events.map((e): Op => {
            const key = e.kv.key.toString();
            return e.type === 'Delete'
              ? { type: 'del', key }
              : { type: 'put', key, value: JSON.parse(e.kv.value.toString()) };
          });
          apply(ops, String(res.header.revision));
        });
        watcher.on('error', reject);
      });
    } finally {
      await watcher.cancel().catch(() => undefined);
    }
  }

  /** A quorum read and a fenced-free write of a key of its own: etcd answers, with a quorum. */
  async check(): Promise<void> {
    await this.client.get('warren-healthcheck').exec();
  }

  async close(): Promise<void> {
    // The flush under way, then one of everything still pending (once: etcd may not answer).
    await this.#flushing;
    await this.flush();
  }
}
