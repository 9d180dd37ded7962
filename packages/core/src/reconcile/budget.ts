import { replacementBudget, type Service, type ServiceSpec } from '../spec.js';
import type { Task } from '../task.js';
import type { PlanBuilder } from './plan-builder.js';
import type { NodeView, SlotState, TaskHealthView } from './types.js';
import { recordFailure } from './slots.js';

/**
 * The replacement budget's one rule: at any moment, at most `replacementBudget(spec)` slots of a
 * service are without a running task because of health. A slot is out for health when its last
 * failure was a health verdict and no task of it holds it yet: it waits out a backoff, gave up,
 * or its replacement is not running and healthy. A task holds its slot once it runs and has been
 * healthy since it started (or has no checks): a replacement that turned healthy and fails again
 * needs room in the budget like any other task, however often the dependency flaps.
 */
export function slotsOutForHealth(
  spec: Pick<ServiceSpec, 'replicas' | 'health'>,
  slots: Iterable<SlotState>,
  live: readonly Task[],
  healthOf: (task: Task) => TaskHealthView,
  now = Number.POSITIVE_INFINITY,
): Set<number> {
  const out = new Set<number>();
  const provingMs = provingPeriodMs(spec);
  for (const s of slots) {
    if (s.slot > spec.replicas || s.failures === 0 || !s.healthFailure) continue;
    const holds = (t: Task): boolean => t.slot === s.slot && holdsItsSlot(t, healthOf(t), now, provingMs);
    if (!live.some(holds)) out.add(s.slot);
  }
  return out;
}

/**
 * A live task its slot counts on: running, and healthy (or without checks) — for a replacement
 * in a slot out for health, healthy for `provingMs` at least — or healthy earlier in its life
 * and failing since. A replacement that has only just passed frees no room in the budget: the
 * tasks held back get the time to pass again when their dependency came back, instead of being
 * killed for a verdict their next probe would have reversed.
 */
export function holdsItsSlot(
  task: Task,
  health: TaskHealthView,
  now = Number.POSITIVE_INFINITY,
  provingMs = 0,
): boolean {
  if (task.state !== 'running') return false;
  if (health.status === 'none') return true;
  if (health.status === 'healthy') return now - (health.healthySince ?? 0) >= provingMs;
  return health.wasHealthy === true;
}

/** How long a replacement must have been healthy to prove itself: its liveness check's detection time. */
export function provingPeriodMs(spec: Pick<ServiceSpec, 'health'>): number {
  const { liveness, check, startup } = spec.health;
  const probe = liveness ?? check ?? startup;
  return probe ? probe.intervalMs * probe.retries + probe.timeoutMs : 0;
}

/**
 * Health verdicts of a service's live tasks, oldest first: a task whose startup or liveness
 * turned unhealthy is failed when the budget has room (or its slot is already out: it is a
 * replacement that never got healthy), otherwise it keeps running, held. Verdicts from a node
 * that cannot reach its engine are not trusted: nothing there is replaced for health.
 */
export function applyHealthVerdicts(
  b: PlanBuilder,
  service: Service,
  live: () => Task[],
  nodesById: ReadonlyMap<string, NodeView>,
): void {
  const { spec } = service;
  const base = { serviceId: service.id, service: spec.name };
  const budget = replacementBudget(spec);
  const candidates = live()
    .filter((t) => t.state === 'running' && b.healthOf(t).failing && !nodesById.get(t.nodeId)?.engineTrouble)
    .sort((x, y) => b.healthOf(x).failing!.since - b.healthOf(y).failing!.since || x.slot - y.slot);
  for (const task of candidates) {
    const failing = b.healthOf(task).failing!;
    const out = outForHealth(b, service, live());
    const at = { ...base, taskId: task.id, slot: task.slot, nodeId: task.nodeId };
    if (out.has(task.slot) || out.size < budget) {
      b.update(task, {
        state: 'failed',
        desiredState: 'shutdown',
        error: failing.reason,
        message: `${failing.phase} check failed`,
        held: false,
      });
      b.event({ ...at, type: 'task-failed', reason: failing.reason });
      recordFailure(b, service, task, failing.reason, true);
    } else if (!b.current(task).held) {
      b.update(task, { held: true, message: `unhealthy; replacement held back (budget ${budget})` });
      const reason = `${out.size} of ${budget} slots already without a running task for health (--max-replacing)`;
      b.event({ ...at, type: 'replacement-held', reason, data: { budget, inFlight: out.size } });
    }
  }
  for (const task of live().filter((t) => t.held && !b.healthOf(t).failing))
    b.update(task, { held: false, message: 'running' });
}

/** The service's slots out for health, as this pass has left them so far. */
export function outForHealth(b: PlanBuilder, service: Service, live: readonly Task[]): Set<number> {
  const slots = new Set([...b.slotNumbers(service.id), ...live.map((t) => t.slot)]);
  return slotsOutForHealth(
    service.spec,
    [...slots].map((n) => b.slotOf(service.id, n)),
    live,
    (t) => b.healthOf(t),
    b.now,
  );
}

/** Correlated failure: half or more of the tasks failing their checks together (held, or their slot out). */
export function detectCorrelatedFailure(
  b: PlanBuilder,
  service: Service,
  live: readonly Task[],
  known: boolean,
): void {
  const { spec } = service;
  const held = live.filter((t) => t.held).length;
  const failing = held + outForHealth(b, service, live).size;
  const correlated = spec.replicas >= 2 && failing * 2 >= spec.replicas;
  if (correlated === known) return;
  b.plan.serviceStates.push({ serviceId: service.id, correlated, since: b.now });
  const base = { serviceId: service.id, service: spec.name };
  b.event(
    correlated
      ? {
          ...base,
          type: 'correlated-failure',
          reason:
            `${failing} of ${spec.replicas} tasks are failing their health checks together: ` +
            `a shared dependency may be down; ${held} replacements held back`,
          data: { failing, replicas: spec.replicas, held },
        }
      : {
          ...base,
          type: 'correlated-failure-cleared',
          reason: 'fewer than half of the tasks are failing their health checks',
        },
  );
}
