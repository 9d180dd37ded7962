/**
 * Where the manager's state lives (DESIGN 9): one interface, two backends — LevelDB in the data
 * dir (one manager, the embedded default) and etcd (several managers, one leader). The Store
 * (store.ts) keeps the state in memory and hands each mutation to its backend as key operations
 * (layout.ts); the reconciler, ingest, sessions, ingress and rollouts never see which backend.
 */

/** One key operation; values are JSON-able. `delPrefix` removes every key that starts with `key`. */
export type Op =
  { type: 'put'; key: string; value: unknown } | { type: 'del'; key: string } | { type: 'delPrefix'; key: string };

export interface StoreBackend {
  /** Every key and value, in key order: the state at start. */
  load(): AsyncIterable<[string, unknown]>;
  /**
   * Writes `now` atomically and durably before it resolves. `later` may be written with a later
   * write instead (a backend that is not built for many small writes coalesces them: the last
   * value of a key wins), unless a `now` op of a later write removes its key first.
   */
  write(now: readonly Op[], later: readonly Op[]): Promise<void>;
  /** A real write and read, for /health/ready. */
  check(): Promise<void>;
  /** Writes what it holds back, then closes. */
  close(): Promise<void>;
}
