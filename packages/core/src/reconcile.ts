import { hasImage } from './image.js';
import type { Service } from './spec.js';
import { isTerminal, type Task } from './task.js';

/** What the reconciler knows of a node. */
export interface NodeView {
  id: string;
  name: string;
  /** Connected and accepting tasks. */
  ready: boolean;
  images: readonly string[];
}

export interface ReconcileInput {
  services: readonly Service[];
  tasks: readonly Task[];
  nodes: readonly NodeView[];
  now: number;
  newId: () => string;
  /** Ended tasks kept per slot for `service ps`; default 5, as Swarm's task history limit. */
  historyLimit?: number;
}

export type Action =
  | { type: 'create'; task: Task }
  | { type: 'update'; task: Task }
  | { type: 'delete'; task: Task };

export const DEFAULT_HISTORY_LIMIT = 5;

/**
 * The manager's decisions, as a pure function of desired state (services), observed state
 * (tasks, nodes) and the time. Running it again on its own output yields no actions.
 *
 * - every slot 1..replicas of a service has exactly one task that should run; a slot whose
 *   task ended (failed, complete, rejected, shut down behind our back) gets a new task at once
 * - tasks of slots above the replica count, and of removed services, are told to shut down
 * - ended tasks are kept as history (the newest few per slot) and deleted after that; a removed
 *   service's tasks are deleted as soon as they have ended, which removes their containers
 * - pending tasks go to the ready node with the image that runs the fewest tasks of the
 *   service, then the fewest tasks overall
 */
export function reconcile(input: ReconcileInput): Action[] {
  const { now } = input;
  const historyLimit = input.historyLimit ?? DEFAULT_HISTORY_LIMIT;
  const actions = new Map<string, Action>();
  const current = (task: Task): Task => actions.get(task.id)?.task ?? task;
  const update = (task: Task, change: Partial<Task>): void => {
    const prior = actions.get(task.id);
    const next = { ...current(task), ...change, updatedAt: now };
    actions.set(task.id, { type: prior?.type === 'create' ? 'create' : 'update', task: next });
  };
  const remove = (task: Task): void => void actions.set(task.id, { type: 'delete', task });
  const stop = (task: Task, message: string): void => {
    // A task that never reached a node has nothing to stop: it ends here.
    if (task.state === 'new' || task.state === 'pending') update(task, { desiredState: 'shutdown', state: 'shutdown', message });
    else update(task, { desiredState: 'shutdown', message });
  };

  const servicesById = new Map(input.services.map((s) => [s.id, s]));
  const tasksByService = groupBy(input.tasks, (t) => t.serviceId);

  for (const task of input.tasks) {
    if (servicesById.has(task.serviceId)) continue;
    if (isTerminal(task.state)) remove(task);
    else if (task.desiredState === 'running') stop(task, 'service removed');
  }

  for (const service of input.services) {
    const bySlot = groupBy(tasksByService.get(service.id) ?? [], (t) => t.slot);
    const slots = new Set<number>(bySlot.keys());
    for (let slot = 1; slot <= service.spec.replicas; slot++) slots.add(slot);

    for (const slot of [...slots].sort((a, b) => a - b)) {
      const tasks = bySlot.get(slot) ?? [];
      const wanted = slot <= service.spec.replicas;
      const active = tasks.filter((t) => t.desiredState === 'running');
      for (const task of active) {
        if (!wanted) stop(task, `scaled down to ${service.spec.replicas}`);
        else if (isTerminal(task.state)) update(task, { desiredState: 'shutdown' });
      }
      if (wanted) {
        const live = active.filter((t) => !isTerminal(t.state)).sort(newestFirst);
        for (const extra of live.slice(1)) stop(extra, 'duplicate task in slot');
        if (live.length === 0) {
          const task = newTask(service, slot, input.newId(), now);
          actions.set(task.id, { type: 'create', task });
        }
      }
      const ended = tasks.map(current).filter((t) => t.desiredState === 'shutdown' && isTerminal(t.state)).sort(newestFirst);
      for (const task of wanted ? ended.slice(historyLimit) : ended) remove(task);
    }
  }

  schedule(input, [...actions.values()].map((a) => a.task), update);
  return [...actions.values()];
}

function schedule(input: ReconcileInput, changed: Task[], update: (task: Task, change: Partial<Task>) => void): void {
  const changedById = new Map(changed.map((t) => [t.id, t]));
  const known = new Set(input.tasks.map((t) => t.id));
  const tasks = [...input.tasks.map((t) => changedById.get(t.id) ?? t), ...changed.filter((t) => !known.has(t.id))];
  const pending = tasks.filter((t) => t.state === 'pending' && t.desiredState === 'running').sort((a, b) => a.slot - b.slot);
  if (pending.length === 0) return;

  const load = new Map<string, number>();
  const serviceLoad = new Map<string, number>();
  const key = (nodeId: string, serviceId: string): string => `${nodeId}/${serviceId}`;
  for (const t of tasks) {
    if (t.nodeId === '' || t.desiredState !== 'running' || isTerminal(t.state)) continue;
    load.set(t.nodeId, (load.get(t.nodeId) ?? 0) + 1);
    serviceLoad.set(key(t.nodeId, t.serviceId), (serviceLoad.get(key(t.nodeId, t.serviceId)) ?? 0) + 1);
  }
  const ready = input.nodes.filter((n) => n.ready);
  for (const task of pending) {
    const candidates = ready.filter((n) => hasImage(n.images, task.spec.image));
    if (candidates.length === 0) {
      const message = ready.length === 0 ? 'no ready node' : `no ready node has image ${task.spec.image}`;
      if (task.message !== message) update(task, { message });
      continue;
    }
    const score = (n: NodeView): [number, number, string] => [serviceLoad.get(key(n.id, task.serviceId)) ?? 0, load.get(n.id) ?? 0, n.name];
    const node = candidates.reduce((best, n) => (compareScore(score(n), score(best)) < 0 ? n : best));
    update(task, { state: 'assigned', nodeId: node.id, message: `assigned to ${node.name}` });
    load.set(node.id, (load.get(node.id) ?? 0) + 1);
    serviceLoad.set(key(node.id, task.serviceId), (serviceLoad.get(key(node.id, task.serviceId)) ?? 0) + 1);
  }
}

function newTask(service: Service, slot: number, id: string, now: number): Task {
  return {
    id,
    serviceId: service.id,
    serviceName: service.spec.name,
    slot,
    nodeId: '',
    desiredState: 'running',
    state: 'pending',
    message: 'waiting for a node',
    error: '',
    containerId: '',
    createdAt: now,
    updatedAt: now,
    spec: service.spec,
  };
}

function newestFirst(a: Task, b: Task): number {
  return b.createdAt - a.createdAt || (a.id < b.id ? 1 : -1);
}

function compareScore(a: [number, number, string], b: [number, number, string]): number {
  return a[0] - b[0] || a[1] - b[1] || (a[2] < b[2] ? -1 : a[2] > b[2] ? 1 : 0);
}

function groupBy<T, K>(items: readonly T[], keyOf: (item: T) => K): Map<K, T[]> {
  const groups = new Map<K, T[]>();
  for (const item of items) {
    const k = keyOf(item);
    const group = groups.get(k);
    if (group) group.push(item);
    else groups.set(k, [item]);
  }
  return groups;
}
