export { Manager, type ManagerOptions, type ManagerState } from './manager.js';
export { Store, type Change, type NodeRecord, type StoreView } from './store/store.js';
export { IngressTables } from './ingress/tables.js';
export { bindErrorFromWire, type BindError } from './ingress/bind-errors.js';
export { TaskDispatch } from './workers/task-dispatch.js';
export { NodeSessions } from './workers/node-sessions.js';
export { NodeMonitor } from './workers/node-monitor.js';
export { StatusStream } from './status/stream.js';
export { ALL, PassScope, type Scope } from './pass-scope.js';
export { GroupCommit } from './workers/group-commit.js';
export { EtcdBackend, FencedError, MAX_TXN_OPS, type Fence } from './store/etcd/backend.js';
export { LevelBackend } from './store/leveldb/backend.js';
export type { Op, StoreBackend } from './store/backend.js';
export {
  Election,
  type Campaign,
  type ElectionHooks,
  type ElectionStore,
  type LeaderInfo,
  type LeaseHandle,
  type Term,
} from './leadership/election.js';
export { EtcdElection } from './leadership/etcd-election.js';
