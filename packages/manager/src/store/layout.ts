import { RESULTS_KEPT, type EventDraft, type WarrenEvent } from '@warren/core';
import type { Op } from './backend.js';
import type { Change } from './types.js';

/**
 * How the manager's state is laid out in a backend (LevelDB, or etcd under a prefix).
 *
 * Keys (UTF-8 strings) and values (JSON):
 *   service:<id>  → Service      the desired state the user asked for
 *   task:<id>     → Task         one per replica slot and attempt, live and ended (history)
 *   node:<id>     → NodeRecord   every worker that ever registered
 *   health:<task id>:<phase> → PhaseState + ring position   a phase's state
 *   result:<task id>:<phase>:<0-9> → ProbeResult  its last 10 results, a ring: each result is
 *                                written once, so an update costs a small state and its new
 *                                results, not the whole history. Both deleted with their task.
 *   slot:<service id>:<slot> → SlotState     failures in a row, backoff, given up
 *   svcstate:<service id>    → ServiceState  correlated failure flag
 *   event:<seq, 16 digits>   → WarrenEvent   the newest 10,000 events, in order
 *   meta:<name>   → string       e.g. meta:join-token
 *   auth:<service id>        → RegistryAuth  --with-registry-auth credentials (never logged or shown)
 */

/**
 * The batch operations of one change. `ring` holds the next result position per task and phase
 * (`<task>:<phase>`) and is advanced; `stamp` numbers an event draft.
 */
export function encodeChange(
  c: Change,
  ring: Map<string, number>,
  stamp: (draft: EventDraft) => WarrenEvent,
): Op | Op[] {
  switch (c.kind) {
    case 'event': {
      const event = stamp(c.event);
      return { type: 'put', key: eventKey(event.seq), value: event };
    }
    case 'putSlot':
      return { type: 'put', key: `slot:${c.state.serviceId}:${c.state.slot}`, value: c.state };
    case 'deleteSlot':
      return { type: 'del', key: `slot:${c.serviceId}:${c.slot}` };
    case 'putServiceState':
      return { type: 'put', key: `svcstate:${c.state.serviceId}`, value: c.state };
    case 'deleteServiceState':
      return { type: 'del', key: `svcstate:${c.serviceId}` };
    case 'deleteService':
      return [
        { type: 'del', key: `service:${c.service.id}` },
        { type: 'del', key: `auth:${c.service.id}` },
      ];
    case 'putService':
      return { type: 'put' as const, key: `service:${c.service.id}`, value: c.service };
    case 'putTask':
      return { type: 'put' as const, key: `task:${c.task.id}`, value: c.task };
    case 'deleteTask':
      return [
        { type: 'del', key: `task:${c.task.id}` },
        { type: 'delPrefix', key: `health:${c.task.id}:` },
        { type: 'delPrefix', key: `result:${c.task.id}:` },
      ];
    case 'putHealth': {
      const ringKey = `${c.taskId}:${c.phase}`;
      let next = ring.get(ringKey) ?? 0;
      const { results, ...state } = c.record;
      const ops: Op[] = results.slice(results.length - Math.min(c.added, results.length)).map((result): Op => {
        const op: Op = { type: 'put', key: `result:${ringKey}:${next}`, value: result };
        next = (next + 1) % RESULTS_KEPT;
        return op;
      });
      ring.set(ringKey, next);
      ops.push({ type: 'put', key: `health:${ringKey}`, value: { ...state, ring: next } });
      return ops;
    }
    case 'putNode':
      return { type: 'put' as const, key: `node:${c.node.id}`, value: c.node };
    case 'putAuth':
      return { type: 'put', key: `auth:${c.serviceId}`, value: c.auth };
    case 'putMeta':
      return { type: 'put' as const, key: `meta:${c.key}`, value: c.value };
  }
}

export function eventKey(seq: number): string {
  return `event:${String(seq).padStart(16, '0')}`;
}
