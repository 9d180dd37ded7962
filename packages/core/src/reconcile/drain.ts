import type { Service, ServiceSpec } from '../spec.js';
import type { Task } from '../task.js';
import type { PlanBuilder } from './plan-builder.js';
import { newTask } from './slots.js';
import type { NodeView } from './types.js';

/**
 * Drain, gracefully: a slot whose task is on a draining node gets a successor elsewhere first;
 * the old task is stopped once the successor runs (and is healthy, if it has checks). Returns
 * true when the slot is in the middle of a hand-over (nothing else is decided for it this pass).
 */
export function drainSlot(
  b: PlanBuilder,
  service: Service,
  slot: number,
  live: readonly Task[],
  nodesById: ReadonlyMap<string, NodeView>,
  placeable: (spec: ServiceSpec, except: string) => boolean,
): boolean {
  const base = { serviceId: service.id, service: service.spec.name };
  const draining = (t: Task): boolean => nodesById.get(t.nodeId)?.availability === 'drain';
  const [newest, older] = live;
  if (newest && !older && draining(newest) && placeable(service.spec, newest.nodeId)) {
    const task = newTask(service, slot, b.input.newId(), b.now, false);
    b.create(task);
    b.event({
      ...base,
      type: 'task-created',
      taskId: task.id,
      slot,
      reason: `successor of ${newest.id}, whose node is draining`,
    });
    return true;
  }
  if (newest && older && draining(older) && !draining(newest) && live.length === 2) {
    const h = b.healthOf(newest).status;
    if (newest.state === 'running' && (h === 'none' || h === 'healthy')) {
      b.stop(older, `drained: ${newest.id} took over`);
      b.event({
        ...base,
        type: 'task-drained',
        taskId: older.id,
        slot,
        nodeId: older.nodeId,
        reason: `its successor ${newest.id} runs elsewhere`,
      });
    }
    return true;
  }
  return false;
}
