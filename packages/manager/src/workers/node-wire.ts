import type { wire } from '@warren/api';
import type { NodeSessions } from './node-sessions.js';
import type { NodeRecord, StoreView } from '../store/store.js';

/** A node as the CLI sees it: its record, its session (last beat, engine) and its running tasks. */
export function nodeWire(store: StoreView, sessions: NodeSessions, n: NodeRecord, withHistory: boolean): wire.Node {
  const tasks = store.liveTasksOnNode(n.id);
  const engine = sessions.engine(n.id);
  return {
    id: n.id,
    name: n.name,
    hostname: n.hostname,
    status: n.status ?? 'down',
    registeredAtMs: n.registeredAt,
    lastSeenAtMs: sessions.lastSeenAt(n.id) ?? n.lastSeenAt,
    taskCount: tasks,
    images: withHistory ? n.images : [],
    availability: n.availability ?? 'active',
    engineOk: engine.ok,
    engineMessage: engine.message,
    history: withHistory ? (n.history ?? []).map((h) => ({ atMs: h.at, status: h.status, reason: h.reason })) : [],
    address: n.address ?? '',
    ingressAddress: n.ingressAddress ?? '',
    capacity: n.capacity ?? null,
    reserved: store.reservedOnNode(n.id),
  };
}
