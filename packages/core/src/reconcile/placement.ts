import TinyQueue from 'tinyqueue';
import { hasImage } from '../image.js';
import { fits, freeCapacity, noRoomReason, reservationOf, type Capacity } from '../resources.js';
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
 * Whether some node could take a task of `spec` once the tasks `leaving` (stopped for it) have
 * freed their reservations: a stop-first rollout does not stop a task whose successor would find
 * no room even then.
 */
export function roomOnceStopped(nodes: readonly NodeView[], spec: ServiceSpec, leaving: readonly Task[]): boolean {
  const need = reservationOf(spec);
  if (need.nanoCpus === 0 && need.memoryBytes === 0) return true;
  return nodes.some((n) => {
    if (!canRun(n, spec)) return false;
    if (!n.capacity) return true;
    const freed = leaving.filter((t) => t.nodeId === n.id).map((t) => reservationOf(t.spec));
    const reserved = freed.reduce((r, f) => freeCapacity(r, f), n.reserved ?? NONE);
    return fits(need, freeCapacity(n.capacity, reserved));
  });
}

/**
 * Pending tasks go to a node with the image and room for their reservation that runs the fewest
 * tasks of their service, then the fewest tasks overall, then by name; a task no node can take
 * waits and says why.
 *
 * Each kind of task (service, image, pull policy, reservation) keeps its candidate nodes in a
 * min-heap on that order: a node's counts only grow and its room only shrinks while tasks are
 * placed, so a node whose entry is out of date is pushed back with its counts and the next looked
 * at, and one without room for the kind is dropped for good. Placing n tasks on m nodes costs
 * O(m + n log m) per kind, not n × m.
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

  const load = new Map<string, number>(b.input.loadElsewhere ?? []);
  const serviceLoad = new Map<string, number>();
  const key = (nodeId: string, serviceId: string): string => `${nodeId}/${serviceId}`;
  const count = (t: Pick<Task, 'nodeId' | 'serviceId'>): void => {
    load.set(t.nodeId, (load.get(t.nodeId) ?? 0) + 1);
    serviceLoad.set(key(t.nodeId, t.serviceId), (serviceLoad.get(key(t.nodeId, t.serviceId)) ?? 0) + 1);
  };
  for (const t of tasks) if (t.nodeId !== '' && t.desiredState === 'running' && !isTerminal(t.state)) count(t);
  const ready = b.input.nodes.filter(takesTasks);
  // Room left on each node with a known capacity, less what this pass places there.
  const free = new Map(
    ready.flatMap((n) => (n.capacity ? [[n.id, freeCapacity(n.capacity, n.reserved ?? NONE)] as const] : [])),
  );
  const heaps = new Map<string, TinyQueue<Entry> | undefined>();
  for (const task of pending) {
    const need = reservationOf(task.spec);
    const { image, pull } = task.spec;
    const kind = `${task.serviceId}\n${image}\n${pull ?? ''}\n${need.nanoCpus}/${need.memoryBytes}`;
    const entryOf = (node: NodeView, order: number): Entry => ({
      node,
      order,
      serviceLoad: serviceLoad.get(key(node.id, task.serviceId)) ?? 0,
      load: load.get(node.id) ?? 0,
    });
    let heap = heaps.get(kind);
    if (!heaps.has(kind)) {
      const candidates = ready.flatMap((n, i) =>
        canRun(n, task.spec) && fits(need, free.get(n.id)) ? [entryOf(n, i)] : [],
      );
      heap = candidates.length > 0 ? new TinyQueue(candidates, compareEntries) : undefined;
      heaps.set(kind, heap);
    }
    for (;;) {
      const top = heap?.peek();
      if (!top) break;
      if (!fits(need, free.get(top.node.id))) {
        heap!.pop();
        continue;
      }
      const now = entryOf(top.node, top.order);
      if (now.serviceLoad === top.serviceLoad && now.load === top.load) break;
      heap!.pop();
      heap!.push(now);
    }
    const node = heap?.peek()?.node;
    if (!node) {
      const message = whyPending(ready, task.spec, need, free);
      if (message.startsWith('no node has')) b.plan.waitingForRoom.add(task.serviceId);
      if (task.message !== message) b.update(task, { message });
      continue;
    }
    b.update(task, { state: 'assigned', nodeId: node.id, message: `assigned to ${node.name}` });
    count({ nodeId: node.id, serviceId: task.serviceId });
    const room = free.get(node.id);
    if (room) free.set(node.id, freeCapacity(room, need));
  }
}

const NONE: Capacity = { nanoCpus: 0, memoryBytes: 0 };

/** Why a task no node takes waits: no ready node, none with its image, none with room for it. */
function whyPending(
  ready: readonly NodeView[],
  spec: Task['spec'],
  need: Capacity,
  free: ReadonlyMap<string, Capacity>,
): string {
  if (ready.length === 0) return 'no ready node';
  const able = ready.filter((n) => canRun(n, spec));
  if (able.length === 0) return `no ready node has image ${spec.image}`;
  return noRoomReason(
    need,
    able.map((n) => free.get(n.id) ?? { nanoCpus: Infinity, memoryBytes: Infinity }),
  );
}

/** A candidate node with the counts it had when it was (last) put in its heap. */
interface Entry {
  node: NodeView;
  /** Its position among the nodes: the last tie-breaker, as the first found wins. */
  order: number;
  serviceLoad: number;
  load: number;
}

function compareEntries(x: Entry, y: Entry): number {
  const [a, b] = [x.node.name, y.node.name];
  return x.serviceLoad - y.serviceLoad || x.load - y.load || (a < b ? -1 : a > b ? 1 : 0) || x.order - y.order;
}
