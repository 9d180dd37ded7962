import type { Component } from '@warren/api';
import type { NodeSessions } from './workers/node-sessions.js';
import type { ReconcilerLoop } from './reconciler-loop.js';
import type { Store } from './store/store.js';
import type { LeadershipView } from './leadership/gates.js';

/** What the manager depends on, checked for `/health/ready`: the store, the reconciler loop, workers. */
export function managerComponents(deps: {
  store: Store;
  sessions: NodeSessions;
  reconciler: ReconcilerLoop;
  now: () => number;
  startedAt: number;
  /** The reconciler's safety pass; it is stuck after five missed. */
  intervalMs: number;
  leadership: LeadershipView;
  /** `LevelDB` or `etcd`. */
  storeName: string;
}): Component[] {
  const { store, sessions, reconciler, now, startedAt, intervalMs, leadership } = deps;
  return [
    {
      name: 'store',
      critical: true,
      silent: deps.storeName === 'etcd' ? 'no quorum: etcd does not answer' : undefined,
      check: async () => {
        try {
          await store.check();
        } catch (err) {
          if (deps.storeName === 'etcd')
            throw new Error(`no quorum: etcd does not answer (${(err as Error).message})`);
          throw err;
        }
        const how = deps.storeName === 'etcd' ? 'a quorum read of etcd answered' : 'LevelDB write and read back';
        return { status: 'healthy', message: how };
      },
    },
    {
      name: 'leadership',
      critical: true,
      check: async () => {
        const leader = leadership.leader;
        if (leadership.leading) return { status: 'healthy', message: 'this manager leads' };
        if (leader) return { status: 'healthy', message: `following ${leader.id} at ${leader.address}` };
        return { status: 'unhealthy', message: `no manager leads: ${leadership.why || 'an election is under way'}` };
      },
    },
    {
      name: 'reconciler',
      critical: true,
      check: async () => {
        if (!leadership.leading) return { status: 'healthy', message: 'the leader reconciles' };
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
