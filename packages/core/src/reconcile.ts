import type { EventDraft } from './events.js';
import type { Phase, TaskHealth } from './health.js';
import { hasImage } from './image.js';
import { replacementBudget, type Service } from './spec.js';
import { isTerminal, type Task } from './task.js';

/** What the reconciler knows of a node. */
export interface NodeView {
  id: string;
  name: string;
  /** Connected and heartbeating: new tasks may be placed here. */
  ready: boolean;
  /** Declared down (missed heartbeats): its tasks are replaced elsewhere when possible. */
  down?: boolean;
  /** `drain`: tasks move away gracefully and none are placed here. */
  availability?: 'active' | 'drain';
  /** The node's worker cannot reach its Docker engine: its probe verdicts are not trusted. */
  engineTrouble?: boolean;
  images: readonly string[];
}

/** A slot's replacement history: its failures in a row and when it may be filled again. */
export interface SlotState {
  serviceId: string;
  slot: number;
  /** Tasks of the slot that ended badly in a row (reset when the slot is forgiven). */
  failures: number;
  lastFailureAt: number;
  /** Not before this time is a new task created in the slot (0: at once). */
  nextAttemptAt: number;
  /** The last failure was a health verdict: the next task counts against the budget. */
  healthFailure: boolean;
  /** The slot reached --restart-max-attempts and is no longer filled. */
  gaveUp: boolean;
  lastReason: string;
}

/** What the reconciler remembers of a service between passes. */
export interface ServiceState {
  serviceId: string;
  /** Half or more of the service's tasks are failing their health checks together. */
  correlated: boolean;
  since: number;
}

/** A task's health, as the reconciler needs it. */
export interface TaskHealthView {
  status: TaskHealth;
  /** Startup or liveness is unhealthy: the task should be failed (if the budget allows). */
  failing?: { phase: Phase; reason: string; since: number };
  /** Since when the task has been healthy (its liveness or startup turned healthy). */
  healthySince?: number;
}

export interface ReconcileInput {
  services: readonly Service[];
  tasks: readonly Task[];
  nodes: readonly NodeView[];
  slots?: readonly SlotState[];
  serviceStates?: readonly ServiceState[];
  health?: ReadonlyMap<string, TaskHealthView>;
  now: number;
  newId: () => string;
  /** Ended tasks kept per slot for `service ps`; default 5, as Swarm's task history limit. */
  historyLimit?: number;
}

export type Action =
  | { type: 'create'; task: Task }
  | { type: 'update'; task: Task }
  | { type: 'delete'; task: Task };

export interface Plan {
  actions: Action[];
  slots: SlotState[];
  deletedSlots: Array<{ serviceId: string; slot: number }>;
  serviceStates: ServiceState[];
  deletedServiceStates: string[];
  events: EventDraft[];
  /** The next time a pass has something to do (a backoff that ends, a slot to forgive). */
  wakeAt?: number;
}

export const DEFAULT_HISTORY_LIMIT = 5;

const NO_HEALTH: TaskHealthView = { status: 'none' };

/**
 * The manager's decisions, as a pure function of desired state (services), observed state
 * (tasks, nodes, health), what it remembers (slots, service states) and the time. Running it
 * again on its own output yields nothing new.
 *
 * - every slot 1..replicas of a service has one task that should run. A slot whose task ended
 *   (failed, complete, rejected) gets a new task: at once the first time, then after a backoff
 *   that doubles (--restart-delay up to --restart-max-delay); after --restart-max-attempts in a
 *   row the slot gives up. A slot whose task stays running and healthy for --restart-window is
 *   forgiven its failures.
 * - a running task whose startup or liveness turned unhealthy is failed and replaced, but only
 *   while fewer than the service's budget (--max-replacing, default a third of the replicas) are
 *   being replaced for health; a replacement counts until its task is healthy or ends. Tasks
 *   over the budget keep running, held. When half or more of a service's tasks fail their
 *   checks together, the service is flagged: a shared dependency may be down.
 * - tasks of slots above the replica count, and of removed services, are told to shut down;
 *   ended tasks are kept as history (the newest few per slot), then deleted
 * - pending tasks go to the ready node with the image that runs the fewest tasks of the
 *   service, then the fewest tasks overall
 */
export function reconcile(input: ReconcileInput): Plan {
  const { now } = input;
  const historyLimit = input.historyLimit ?? DEFAULT_HISTORY_LIMIT;
  const health = input.health ?? new Map<string, TaskHealthView>();
  const healthOf = (t: Task): TaskHealthView => health.get(t.id) ?? NO_HEALTH;
  const actions = new Map<string, Action>();
  const events: EventDraft[] = [];
  const slotPuts = new Map<string, SlotState>();
  const plan: Plan = { actions: [], slots: [], deletedSlots: [], serviceStates: [], deletedServiceStates: [], events };
  const wake = (at: number): void => {
    if (at > now && (plan.wakeAt === undefined || at < plan.wakeAt)) plan.wakeAt = at;
  };

  const current = (task: Task): Task => actions.get(task.id)?.task ?? task;
  const update = (task: Task, change: Partial<Task>): Task => {
    const prior = actions.get(task.id);
    const next = { ...current(task), ...change, updatedAt: now };
    actions.set(task.id, { type: prior?.type === 'create' ? 'create' : 'update', task: next });
    return next;
  };
  const remove = (task: Task): void => void actions.set(task.id, { type: 'delete', task });
  const stop = (task: Task, message: string): void => {
    // A task that never reached a node has nothing to stop: it ends here.
    if (task.state === 'new' || task.state === 'pending') update(task, { desiredState: 'shutdown', state: 'shutdown', message });
    else update(task, { desiredState: 'shutdown', message });
  };
  const event = (draft: EventDraft): void => void events.push(draft);

  const servicesById = new Map(input.services.map((s) => [s.id, s]));
  const tasksByService = groupBy(input.tasks, (t) => t.serviceId);
  const slotKey = (serviceId: string, slot: number): string => `${serviceId}/${slot}`;
  const knownSlots = new Map((input.slots ?? []).map((s) => [slotKey(s.serviceId, s.slot), s]));
  const slotOf = (serviceId: string, slot: number): SlotState =>
    slotPuts.get(slotKey(serviceId, slot)) ??
    knownSlots.get(slotKey(serviceId, slot)) ?? { serviceId, slot, failures: 0, lastFailureAt: 0, nextAttemptAt: 0, healthFailure: false, gaveUp: false, lastReason: '' };
  const putSlot = (state: SlotState): void => void slotPuts.set(slotKey(state.serviceId, state.slot), state);
  const states = new Map((input.serviceStates ?? []).map((s) => [s.serviceId, s]));

  for (const task of input.tasks) {
    if (servicesById.has(task.serviceId)) continue;
    if (isTerminal(task.state)) remove(task);
    else if (task.desiredState === 'running') stop(task, 'service removed');
  }
  for (const s of input.slots ?? []) if (!servicesById.has(s.serviceId)) plan.deletedSlots.push({ serviceId: s.serviceId, slot: s.slot });
  for (const s of input.serviceStates ?? []) if (!servicesById.has(s.serviceId)) plan.deletedServiceStates.push(s.serviceId);

  const nodesById = new Map(input.nodes.map((n) => [n.id, n]));
  const placeable = (image: string, except = ''): boolean =>
    input.nodes.some((n) => n.id !== except && n.ready && !n.down && n.availability !== 'drain' && !n.engineTrouble && hasImage(n.images, image));

  // Tasks of a node that is down: replaced elsewhere when another node can take them (then the
  // node, if it comes back, stops them); kept otherwise, so a node that returns carries on.
  for (const task of input.tasks) {
    const node = nodesById.get(task.nodeId);
    if (!node?.down || task.desiredState !== 'running' || isTerminal(task.state) || !servicesById.has(task.serviceId)) continue;
    if (!placeable(task.spec.image, node.id)) {
      const message = `node ${node.name} is down; no other node can take it`;
      if (task.message !== message) update(task, { message });
      continue;
    }
    update(task, { state: 'orphaned', desiredState: 'shutdown', error: `node ${node.name} is down`, message: 'orphaned', held: false });
    event({ type: 'task-orphaned', serviceId: task.serviceId, service: task.serviceName, taskId: task.id, slot: task.slot, nodeId: node.id, reason: `node ${node.name} is down: replaced on another node` });
  }

  for (const service of input.services) {
    const { spec } = service;
    const base = { serviceId: service.id, service: spec.name };
    const bySlot = groupBy(tasksByService.get(service.id) ?? [], (t) => t.slot);
    const slotNumbers = new Set<number>([...bySlot.keys(), ...[...knownSlots.values()].filter((s) => s.serviceId === service.id).map((s) => s.slot)]);
    for (let slot = 1; slot <= spec.replicas; slot++) slotNumbers.add(slot);
    const slots = [...slotNumbers].sort((a, b) => a - b);

    /** A task of the slot ended badly: count it and decide when the slot may be filled again. */
    const recordFailure = (task: Task, reason: string, viaHealth: boolean): void => {
      const before = slotOf(service.id, task.slot);
      const failures = before.failures + 1;
      const r = spec.restart;
      const gaveUp = r.maxAttempts > 0 && failures > r.maxAttempts;
      const delayMs = failures === 1 ? 0 : Math.min(r.delayMs * 2 ** (failures - 2), r.maxDelayMs);
      putSlot({ ...before, failures, lastFailureAt: now, nextAttemptAt: now + delayMs, healthFailure: viaHealth, gaveUp, lastReason: reason });
      const at = { ...base, taskId: task.id, slot: task.slot, nodeId: task.nodeId };
      if (gaveUp) event({ ...at, type: 'restart-limit-reached', reason: `slot ${task.slot} failed ${failures} times in a row (--restart-max-attempts ${r.maxAttempts}): not replaced again` });
      else if (delayMs > 0) event({ ...at, type: 'replacement-delayed', reason: `failure ${failures} in a row: next attempt in ${delayMs} ms`, data: { attempt: failures, delayMs, dueAt: now + delayMs } });
    };

    // Ended tasks: history, and a failure of their slot.
    for (const slot of slots) {
      const wanted = slot <= spec.replicas;
      for (const task of (bySlot.get(slot) ?? []).filter((t) => t.desiredState === 'running')) {
        if (!wanted) stop(task, `scaled down to ${spec.replicas}`);
        else if (isTerminal(task.state)) {
          update(task, { desiredState: 'shutdown', held: false });
          recordFailure(task, task.error || (task.state === 'complete' ? 'exited' : task.state), false);
        }
      }
      if (!wanted && knownSlots.has(slotKey(service.id, slot))) plan.deletedSlots.push({ serviceId: service.id, slot });
    }

    // Health verdicts, within the replacement budget.
    const budget = replacementBudget(spec);
    const live = (): Task[] => [...(tasksByService.get(service.id) ?? []).map(current), ...[...actions.values()].filter((a) => a.type === 'create' && a.task.serviceId === service.id).map((a) => a.task)].filter((t) => t.desiredState === 'running' && t.slot <= spec.replicas && !isTerminal(t.state));
    const waitingAfterHealth = (): number => slots.filter((slot) => slot <= spec.replicas && slotOf(service.id, slot).healthFailure && !slotOf(service.id, slot).gaveUp && !live().some((t) => t.slot === slot)).length;
    const inFlight = (): number => live().filter((t) => t.replacing && healthOf(t).status !== 'healthy').length + waitingAfterHealth();
    // Verdicts from a node that cannot reach its engine are not trusted (its probes may be the
    // ones failing): nothing there is replaced for health until the engine answers again.
    const candidates = live()
      .filter((t) => t.state === 'running' && healthOf(t).failing && !nodesById.get(t.nodeId)?.engineTrouble)
      .sort((a, b) => healthOf(a).failing!.since - healthOf(b).failing!.since || a.slot - b.slot);
    for (const task of candidates) {
      const failing = healthOf(task).failing!;
      const at = { ...base, taskId: task.id, slot: task.slot, nodeId: task.nodeId };
      // A replacement that fails its checks already holds its place in the budget: it goes.
      if (task.replacing || inFlight() < budget) {
        update(task, { state: 'failed', desiredState: 'shutdown', error: failing.reason, message: `${failing.phase} check failed`, held: false });
        event({ ...at, type: 'task-failed', reason: failing.reason });
        recordFailure(task, failing.reason, true);
      } else if (!task.held) {
        update(task, { held: true, message: `unhealthy; replacement held back (budget ${budget})` });
        event({ ...at, type: 'replacement-held', reason: `${inFlight()} of ${budget} replacements already under way (--max-replacing)`, data: { budget, inFlight: inFlight() } });
      }
    }
    for (const task of live().filter((t) => t.held && !healthOf(t).failing)) update(task, { held: false, message: 'running' });

    // Fill the slots, in the order of their numbers, unless they wait out a backoff.
    for (let slot = 1; slot <= spec.replicas; slot++) {
      const tasks = [...(bySlot.get(slot) ?? []), ...[...actions.values()].filter((a) => a.type === 'create' && a.task.serviceId === service.id && a.task.slot === slot).map((a) => a.task)].map(current);
      const liveHere = tasks.filter((t) => t.desiredState === 'running' && !isTerminal(t.state)).sort(newestFirst);
      // Drain: a task on a draining node gets a successor elsewhere first; it is stopped once
      // the successor runs (and is healthy, if it has checks).
      const draining = (t: Task): boolean => nodesById.get(t.nodeId)?.availability === 'drain';
      const [newest, older] = liveHere;
      if (newest && !older && draining(newest) && placeable(spec.image, newest.nodeId)) {
        const task = newTask(service, slot, input.newId(), now, false);
        actions.set(task.id, { type: 'create', task });
        event({ ...base, type: 'task-created', taskId: task.id, slot, reason: `successor of ${newest.id}, whose node is draining` });
        continue;
      }
      if (newest && older && draining(older) && !draining(newest) && liveHere.length === 2) {
        const h = healthOf(newest).status;
        if (newest.state === 'running' && (h === 'none' || h === 'healthy')) {
          stop(older, `drained: ${newest.id} took over`);
          event({ ...base, type: 'task-drained', taskId: older.id, slot, nodeId: older.nodeId, reason: `its successor ${newest.id} runs elsewhere` });
        }
        continue;
      }
      for (const extra of liveHere.slice(1)) stop(extra, 'duplicate task in slot');
      const state = slotOf(service.id, slot);
      if (liveHere.length === 0) {
        if (state.gaveUp) continue;
        if (state.nextAttemptAt > now) {
          wake(state.nextAttemptAt);
          continue;
        }
        const replaces = tasks.filter((t) => isTerminal(t.state)).sort(newestFirst)[0];
        const task = newTask(service, slot, input.newId(), now, state.healthFailure && state.failures > 0);
        actions.set(task.id, { type: 'create', task });
        event({
          ...base,
          type: replaces ? 'task-replaced' : 'task-created',
          taskId: task.id,
          slot,
          reason: replaces ? `replaces ${replaces.id}: ${replaces.error || replaces.state}` : 'new slot',
          ...(replaces ? { data: { replaces: replaces.id, attempt: state.failures } } : {}),
        });
      } else if (state.failures > 0) {
        // Forgiveness: running (and healthy, if it has checks) for a whole window.
        const task = liveHere[0]!;
        const h = healthOf(task);
        const since = h.status === 'none' ? task.startedAt : h.status === 'healthy' ? Math.max(h.healthySince ?? 0, task.startedAt) : 0;
        if (task.state === 'running' && since > 0) {
          if (now - since >= spec.restart.windowMs) {
            putSlot({ ...state, failures: 0, nextAttemptAt: 0, healthFailure: false, gaveUp: false });
            event({ ...base, type: 'backoff-reset', taskId: task.id, slot, nodeId: task.nodeId, reason: `healthy for ${spec.restart.windowMs} ms (--restart-window)` });
          } else wake(since + spec.restart.windowMs);
        }
      }
    }

    // Correlated failure: half or more of the tasks failing their checks together.
    const unhealthyNow = live().filter((t) => t.held).length + inFlight();
    const correlated = spec.replicas >= 2 && unhealthyNow * 2 >= spec.replicas;
    const known = states.get(service.id);
    if (correlated !== (known?.correlated ?? false)) {
      plan.serviceStates.push({ serviceId: service.id, correlated, since: now });
      const held = live().filter((t) => t.held).length;
      event(
        correlated
          ? { ...base, type: 'correlated-failure', reason: `${unhealthyNow} of ${spec.replicas} tasks are failing their health checks together: a shared dependency may be down; ${held} replacements held back`, data: { failing: unhealthyNow, replicas: spec.replicas, held } }
          : { ...base, type: 'correlated-failure-cleared', reason: 'fewer than half of the tasks are failing their health checks' },
      );
    }

    // History: the newest ended tasks of each slot; none for slots above the replica count.
    for (const slot of slots) {
      const ended = (bySlot.get(slot) ?? []).map(current).filter((t) => t.desiredState === 'shutdown' && isTerminal(t.state)).sort(newestFirst);
      for (const task of slot <= spec.replicas ? ended.slice(historyLimit) : ended) remove(task);
    }
  }

  schedule(input, [...actions.values()].map((a) => a.task), update);
  plan.actions = [...actions.values()];
  plan.slots = [...slotPuts.values()];
  return plan;
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
  // A node whose engine does not answer cannot start containers: nothing is placed there.
  const ready = input.nodes.filter((n) => n.ready && !n.down && n.availability !== 'drain' && !n.engineTrouble);
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

function newTask(service: Service, slot: number, id: string, now: number, replacing: boolean): Task {
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
    address: '',
    startedAt: 0,
    replacing,
    held: false,
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
