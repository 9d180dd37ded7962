/**
 * A follower's side of the store (DESIGN 9): the key operations the leader wrote, as etcd
 * reports them, turned back into the changes and events they came from, so that the follower's
 * memory and its listeners (the status page, WatchEvents) see what the leader's did.
 */
import { RESULTS_KEPT, type Phase, type PhaseState, type ProbeResult, type WarrenEvent } from '@warren/core';
import type { Op } from './backend.js';
import { EMPTY_PHASE, withPorts, type MemoryState } from './memory.js';
import type { Change, NodeRecord } from './types.js';
import type { Service, ServiceState, SlotState, Task, RegistryAuth } from '@warren/core';

export interface Decoded {
  changes: Change[];
  events: WarrenEvent[];
  /** Events with this seq or older were deleted (0: none). */
  droppedThrough: number;
}

/**
 * What `ops` (in the order written) change in `state`. `results` holds each task and phase's
 * ring of results by position (`<task>:<phase>` → up to RESULTS_KEPT), kept across calls.
 */
export function decodeOps(
  ops: readonly Op[],
  state: MemoryState,
  results: Map<string, Array<ProbeResult | undefined>>,
): Decoded {
  const changes: Change[] = [];
  const events: WarrenEvent[] = [];
  let droppedThrough = 0;
  /** Health touched by these ops: its new state (if written) per `<task>:<phase>`. */
  const health = new Map<string, { taskId: string; phase: Phase; state?: PhaseState & { ring: number } }>();
  for (const op of ops) {
    if (op.type === 'delPrefix') continue; // etcd reports each key a range delete removed
    const sep = op.key.indexOf(':');
    const kind = op.key.slice(0, sep);
    const id = op.key.slice(sep + 1);
    if (op.type === 'put') {
      const value = op.value;
      if (kind === 'service') changes.push({ kind: 'putService', service: withPorts(value as Service) });
      else if (kind === 'task') changes.push({ kind: 'putTask', task: withPorts(value as Task) });
      else if (kind === 'node') changes.push({ kind: 'putNode', node: value as NodeRecord });
      else if (kind === 'slot') changes.push({ kind: 'putSlot', state: value as SlotState });
      else if (kind === 'svcstate') changes.push({ kind: 'putServiceState', state: value as ServiceState });
      else if (kind === 'event') events.push(value as WarrenEvent);
      else if (kind === 'meta') changes.push({ kind: 'putMeta', key: id, value: value as string });
      else if (kind === 'auth') changes.push({ kind: 'putAuth', serviceId: id, auth: value as RegistryAuth });
      else if (kind === 'health' || kind === 'result') {
        const [taskId, phase, at] = id.split(':') as [string, Phase, string?];
        const key = `${taskId}:${phase}`;
        const touched = health.get(key) ?? { taskId, phase };
        health.set(key, touched);
        if (kind === 'health') touched.state = value as PhaseState & { ring: number };
        else {
          const ring = results.get(key) ?? seedRing(state, taskId, phase, key);
          ring[Number(at)] = value as ProbeResult;
          results.set(key, ring);
        }
      }
    } else {
      if (kind === 'service') {
        const service = state.service(id);
        if (service) changes.push({ kind: 'deleteService', service });
      } else if (kind === 'task') {
        const task = state.task(id);
        if (task) changes.push({ kind: 'deleteTask', task });
        for (const key of [...results.keys()]) if (key.startsWith(`${id}:`)) results.delete(key);
        for (const key of [...health.keys()]) if (key.startsWith(`${id}:`)) health.delete(key);
      } else if (kind === 'slot') {
        const at = id.lastIndexOf(':');
        changes.push({ kind: 'deleteSlot', serviceId: id.slice(0, at), slot: Number(id.slice(at + 1)) });
      } else if (kind === 'svcstate') changes.push({ kind: 'deleteServiceState', serviceId: id });
      else if (kind === 'event') droppedThrough = Math.max(droppedThrough, Number(id));
    }
  }
  for (const [key, { taskId, phase, state: written }] of health) {
    if (!state.task(taskId) && !changes.some((c) => c.kind === 'putTask' && c.task.id === taskId)) continue;
    const known = state.health(taskId)[phase];
    const { ring: next, ...phaseState } = written ?? { ...(known ?? EMPTY_PHASE), ring: state.ring.get(key) ?? 0 };
    state.ring.set(key, next);
    const kept = (results.get(key) ?? []).filter((r): r is ProbeResult => r !== undefined);
    const record = { ...phaseState, results: kept.sort((a, b) => a.at - b.at) };
    changes.push({ kind: 'putHealth', taskId, phase, record, added: 0 });
  }
  return { changes, events, droppedThrough };
}

/**
 * The ring of a task and phase as memory holds it: its results, oldest first, sit just before
 * the next position (layout.ts writes each result at the position and advances it).
 */
function seedRing(state: MemoryState, taskId: string, phase: Phase, key: string): Array<ProbeResult | undefined> {
  const ring = new Array<ProbeResult | undefined>(RESULTS_KEPT).fill(undefined);
  const known = state.health(taskId)[phase]?.results ?? [];
  const next = state.ring.get(key) ?? 0;
  known.slice(-RESULTS_KEPT).forEach((result, i, all) => {
    ring[(next - all.length + i + RESULTS_KEPT) % RESULTS_KEPT] = result;
  });
  return ring;
}
