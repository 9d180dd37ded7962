/**
 * A follower keeps its copy of the state current (DESIGN 9): it follows the leader's writes from
 * the revision it loaded at, and loads everything again when the watch cannot go on (a revision
 * etcd compacted away, a member lost). `waitFor` tells when a revision has been applied: a new
 * leader waits for its own first write to come back, so that it acts on everything its
 * predecessor wrote.
 */
import type { Logger } from 'pino';
import type { Store } from '../store.js';
import type { EtcdBackend } from './backend.js';

export class Following {
  #abort: AbortController | undefined;
  #running: Promise<void> | undefined;
  #applied = 0n;
  #waiters: Array<{ revision: bigint; resolve: () => void }> = [];

  constructor(
    private readonly store: Store,
    private readonly backend: EtcdBackend,
    private readonly logger: Logger,
  ) {}

  /** Follows from the backend's last load until `stop`. */
  start(): void {
    if (this.#running) return;
    const abort = new AbortController();
    this.#abort = abort;
    this.#applied = BigInt(this.backend.loadedRevision);
    this.#running = this.#loop(abort.signal);
  }

  async #loop(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        await this.backend.follow(
          String(this.#applied),
          (ops, revision) => {
            this.store.applyRemote(ops);
            this.#advance(BigInt(revision));
          },
          signal,
        );
      } catch (err) {
        if (signal.aborted) return;
        this.logger.warn({ reason: (err as Error).message }, 'following the leader failed; loading the state again');
        await new Promise((r) => setTimeout(r, 200));
        try {
          await this.store.reload();
          this.#advance(BigInt(this.backend.loadedRevision));
        } catch (reloadErr) {
          this.logger.warn({ reason: (reloadErr as Error).message }, 'cannot load the state from etcd');
        }
      }
    }
  }

  #advance(revision: bigint): void {
    if (revision > this.#applied) this.#applied = revision;
    const ready = this.#waiters.filter((w) => w.revision <= this.#applied);
    this.#waiters = this.#waiters.filter((w) => w.revision > this.#applied);
    for (const w of ready) w.resolve();
  }

  /** Resolves once everything up to `revision` has been applied; rejects after `timeoutMs`. */
  waitFor(revision: string, timeoutMs: number): Promise<void> {
    const wanted = BigInt(revision);
    if (wanted <= this.#applied) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`not caught up with revision ${revision} within ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.#waiters.push({
        revision: wanted,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  }

  async stop(): Promise<void> {
    this.#abort?.abort();
    await this.#running;
    this.#running = undefined;
  }
}
