export { Manager, type ManagerOptions, type ManagerState } from './manager.js';
export { Store, type Change, type NodeRecord, type StoreView } from './store.js';
export { IngressTables } from './ingress.js';
export { TaskDispatch } from './task-dispatch.js';
export { NodeSessions } from './node-sessions.js';
export { StatusStream } from './status-stream.js';
