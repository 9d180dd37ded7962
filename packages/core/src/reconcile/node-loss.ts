import type { Service, ServiceSpec } from '../spec.js';
import { isTerminal } from '../task.js';
import type { PlanBuilder } from './plan-builder.js';
import type { NodeView } from './types.js';

/**
 * Tasks of a node that is down: orphaned and replaced elsewhere when another node can take them
 * (then the node, if it comes back, stops them); kept otherwise, so a node that returns carries on.
 */
export function orphanTasksOfDownNodes(
  b: PlanBuilder,
  servicesById: ReadonlyMap<string, Service>,
  nodesById: ReadonlyMap<string, NodeView>,
  placeable: (spec: ServiceSpec, except: string) => boolean,
): void {
  for (const task of b.input.tasks) {
    const node = nodesById.get(task.nodeId);
    if (!node?.down || task.desiredState !== 'running' || isTerminal(task.state) || !servicesById.has(task.serviceId))
      continue;
    if (!placeable(task.spec, node.id)) {
      const message = `node ${node.name} is down; no other node can take it`;
      if (task.message !== message) b.update(task, { message });
      continue;
    }
    b.update(task, {
      state: 'orphaned',
      desiredState: 'shutdown',
      error: `node ${node.name} is down`,
      message: 'orphaned',
      held: false,
    });
    b.event({
      type: 'task-orphaned',
      serviceId: task.serviceId,
      service: task.serviceName,
      taskId: task.id,
      slot: task.slot,
      nodeId: node.id,
      reason: `node ${node.name} is down: replaced on another node`,
    });
  }
}
