export { Manager, type ManagerOptions, type ManagerState } from './manager.js';
export { Store, type Change, type NodeRecord, type StoreView } from './store.js';
