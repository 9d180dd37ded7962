import type { Component } from '@warren/api';
import type { NodeSessions } from './workers/node-sessions.js';
import type { ReconcilerLoop } from './reconciler-loop.js';
import type { Store } from './store/store.js';

/** What the manager depends on, checked for `/health/ready`: the store, the reconciler loop, workers. */
export function managerComponents(deps: {
  store: Store;
  sessions: NodeSessions;
  reconciler: ReconcilerLoop;
  now: () => number;
  startedAt: number;
  /** The reconciler's safety pass; it is stuck after five missed. */
  intervalMs: number;
}): Component[] {
  const { store, sessions, reconciler, now, startedAt, intervalMs } = deps;
  return [
    {
      name: 'store',
      critical: true,
      check: async () => {
        await store.check();
        return { status: 'healthy', message: 'LevelDB write and read back' };
      },
    },
    {
      name: 'reconciler',
      critical: true,
      check: async () => {
        const age = now() - (reconciler.lastPassAt || startedAt);
        return age <= intervalMs * 5
          ? { status: 'healthy', message: `last pass ${age} ms ago` }
          : { status: 'unhealthy', message: `no pass for ${age} ms` };
      },
    },
    {
      name: 'workers',
      critical: false,
      check: async () => {
        const ready = [...store.nodes()].filter((n) => sessions.isReady(n.id)).length;
        return ready > 0
          ? { status: 'healthy', message: `${ready} ready` }
          : { status: 'degraded', message: 'no worker connected: nothing can be scheduled' };
      },
    },
  ];
}
