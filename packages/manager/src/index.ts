export { Manager, type ManagerOptions, type ManagerState } from './manager.js';
export { Store, type Change, type NodeRecord, type StoreView } from './store/store.js';
export { IngressTables } from './ingress/tables.js';
export { TaskDispatch } from './workers/task-dispatch.js';
export { NodeSessions } from './workers/node-sessions.js';
export { StatusStream } from './status/stream.js';
