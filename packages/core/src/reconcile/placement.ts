import { hasImage } from '../image.js';
import type { ServiceSpec } from '../spec.js';
import { isTerminal, type Task } from '../task.js';
import type { PlanBuilder } from './plan-builder.js';
import type { NodeView } from './types.js';

/** A node that takes new tasks: ready, not down, not draining, and its engine answers. */
export function takesTasks(node: NodeView): boolean {
  return node.ready && !node.down && node.availability !== 'drain' && !node.engineTrouble;
}

/** Whether a node may run a task of `spec`: it has the image, or may pull it (`--pull` is not `never`). */
export function canRun(node: NodeView, spec: Pick<ServiceSpec, 'image' | 'pull'>): boolean {
  return takesTasks(node) && (spec.pull !== 'never' || hasImage(node.images, spec.image));
}

/** Whether some node other than `except` could run a task of `spec`. */
export function placeable(
  nodes: readonly NodeView[],
  spec: Pick<ServiceSpec, 'image' | 'pull'>,
  except = '',
): boolean {
  return nodes.some((n) => n.id !== except && canRun(n, spec));
}

/**
 * Pending tasks go to the node with the image that runs the fewest tasks of their service, then
 * the fewest tasks overall, then by name; a task no node can take waits and says why.
 */
export function schedule(b: PlanBuilder): void {
  const changed = b.changed();
  const changedById = new Map(changed.map((t) => [t.id, t]));
  const known = new Set(b.input.tasks.map((t) => t.id));
  const tasks = [...b.input.tasks.map((t) => changedById.get(t.id) ?? t), ...changed.filter((t) => !known.has(t.id))];
  const pending = tasks
    .filter((t) => t.state === 'pending' && t.desiredState === 'running')
    .sort((x, y) => x.slot - y.slot);
  if (pending.length === 0) return;

  const load = new Map<string, number>();
  const serviceLoad = new Map<string, number>();
  const key = (nodeId: string, serviceId: string): string => `${nodeId}/${serviceId}`;
  const count = (t: Pick<Task, 'nodeId' | 'serviceId'>): void => {
    load.set(t.nodeId, (load.get(t.nodeId) ?? 0) + 1);
    serviceLoad.set(key(t.nodeId, t.serviceId), (serviceLoad.get(key(t.nodeId, t.serviceId)) ?? 0) + 1);
  };
  for (const t of tasks) if (t.nodeId !== '' && t.desiredState === 'running' && !isTerminal(t.state)) count(t);
  const ready = b.input.nodes.filter(takesTasks);
  for (const task of pending) {
    const candidates = ready.filter((n) => canRun(n, task.spec));
    if (candidates.length === 0) {
      const message = ready.length === 0 ? 'no ready node' : `no ready node has image ${task.spec.image}`;
      if (task.message !== message) b.update(task, { message });
      continue;
    }
    const score = (n: NodeView): [number, number, string] => [
      serviceLoad.get(key(n.id, task.serviceId)) ?? 0,
      load.get(n.id) ?? 0,
      n.name,
    ];
    const node = candidates.reduce((best, n) => (compareScore(score(n), score(best)) < 0 ? n : best));
    b.update(task, { state: 'assigned', nodeId: node.id, message: `assigned to ${node.name}` });
    count({ nodeId: node.id, serviceId: task.serviceId });
  }
}

function compareScore(x: [number, number, string], y: [number, number, string]): number {
  return x[0] - y[0] || x[1] - y[1] || (x[2] < y[2] ? -1 : x[2] > y[2] ? 1 : 0);
}
