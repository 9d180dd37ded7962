import type { ServiceSpec } from '../spec.js';
import { isTerminal, type Task } from '../task.js';
import { applyHealthVerdicts, detectCorrelatedFailure } from './budget.js';
import { drainSlot } from './drain.js';
import { orphanTasksOfDownNodes } from './node-loss.js';
import { PlanBuilder, groupBy, newestFirst } from './plan-builder.js';
import { placeable, schedule } from './placement.js';
import { endTasks, fillOrForgive, trimHistory } from './slots.js';
import { DEFAULT_HISTORY_LIMIT, type Plan, type ReconcileInput } from './types.js';
import { Rollout } from './update.js';

export { confirmedSince } from './takeover.js';
export { holdsItsSlot, slotsOutForHealth } from './budget.js';
export * from './types.js';

/**
 * The manager's decisions, as a pure function of desired state (services), observed state
 * (tasks, nodes, health), what it remembers (slots, service states) and the time. Running it
 * again on its own output yields nothing new. Each concern has a file of its own:
 *
 * - node-loss: tasks of a down node are replaced elsewhere when another node can take them
 * - slots: every slot 1..replicas has one task that should run; an ended task is a failure of
 *   its slot, which backs off, may give up, and is forgiven after a healthy window; history
 * - budget: a task whose startup or liveness turned unhealthy is failed only while few enough
 *   slots are without a running task for health; the rest keep running, held; correlated failure
 * - update: a rollout (`service update`, `service rollback`) judges its new tasks by their health,
 *   pauses or rolls back when too many fail, and rolls outdated slots over batch by batch
 * - drain: a task on a draining node gets its successor elsewhere before it stops
 * - placement: pending tasks go to the least loaded node that can run them
 */
export function reconcile(input: ReconcileInput): Plan {
  const b = new PlanBuilder(input);
  const historyLimit = input.historyLimit ?? DEFAULT_HISTORY_LIMIT;
  const servicesById = new Map(input.services.map((s) => [s.id, s]));
  const nodesById = new Map(input.nodes.map((n) => [n.id, n]));
  const canPlace = (spec: ServiceSpec, except = ''): boolean => placeable(input.nodes, spec, except);
  const tasksByService = groupBy(input.tasks, (t) => t.serviceId);

  for (const task of input.tasks) {
    if (servicesById.has(task.serviceId)) continue;
    if (isTerminal(task.state)) b.remove(task);
    else if (task.desiredState === 'running') b.stop(task, 'service removed');
  }
  for (const s of input.slots ?? []) {
    if (!servicesById.has(s.serviceId)) b.plan.deletedSlots.push({ serviceId: s.serviceId, slot: s.slot });
  }
  for (const s of input.serviceStates ?? []) {
    if (!servicesById.has(s.serviceId)) b.plan.deletedServiceStates.push(s.serviceId);
  }
  orphanTasksOfDownNodes(b, servicesById, nodesById, canPlace);
  const known = new Map((input.serviceStates ?? []).map((s) => [s.serviceId, s.correlated]));

  for (const stored of input.services) {
    b.forService(stored.id);
    const rollout = new Rollout(b, stored, tasksByService.get(stored.id) ?? [], nodesById);
    const service = rollout.judge();
    const { spec } = service;
    const bySlot = groupBy(tasksByService.get(service.id) ?? [], (t) => t.slot);
    const slotNumbers = new Set<number>([...bySlot.keys(), ...b.slotNumbers(service.id)]);
    for (let slot = 1; slot <= spec.replicas; slot++) slotNumbers.add(slot);
    const slots = [...slotNumbers].sort((x, y) => x - y);
    const live = (): Task[] =>
      [...(tasksByService.get(service.id) ?? []).map((t) => b.current(t)), ...b.created(service.id)].filter(
        (t) => t.desiredState === 'running' && t.slot <= spec.replicas && !isTerminal(t.state),
      );

    // Slots above the replica count stop; ended tasks are failures of their slot.
    for (const slot of slots) {
      const tasks = bySlot.get(slot) ?? [];
      if (slot > spec.replicas) {
        for (const task of tasks.filter((t) => t.desiredState === 'running'))
          b.stop(task, `scaled down to ${spec.replicas}`);
        if (b.hasSlotRecord(service.id, slot)) b.plan.deletedSlots.push({ serviceId: service.id, slot });
      } else endTasks(b, service, tasks);
    }

    applyHealthVerdicts(b, service, live, nodesById);

    // Fill the slots, in the order of their numbers.
    for (let slot = 1; slot <= spec.replicas; slot++) {
      const tasks = [...(bySlot.get(slot) ?? []), ...b.created(service.id, slot)].map((t) => b.current(t));
      const liveHere = tasks.filter((t) => t.desiredState === 'running' && !isTerminal(t.state)).sort(newestFirst);
      if (drainSlot(b, service, slot, liveHere, nodesById, canPlace)) continue;
      const primary = rollout.settle(liveHere);
      fillOrForgive(b, service, slot, tasks, primary ? [primary] : []);
    }
    rollout.advance(live());

    detectCorrelatedFailure(b, service, live(), known.get(service.id) ?? false);
    for (const slot of slots) trimHistory(b, slot, slot <= spec.replicas, bySlot.get(slot) ?? [], historyLimit);
  }

  schedule(b);
  return b.build();
}
