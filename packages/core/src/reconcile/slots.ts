import { backoffDelay } from '../backoff.js';
import type { Service } from '../spec.js';
import { isTerminal, type Task } from '../task.js';
import { newestFirst, type PlanBuilder } from './plan-builder.js';
import type { TaskHealthView } from './types.js';

/**
 * A task of the slot ended badly: count it and decide when the slot may be filled again — at
 * once the first time, then after --restart-delay doubling up to --restart-max-delay; after
 * --restart-max-attempts in a row the slot gives up.
 */
export function recordFailure(b: PlanBuilder, service: Service, task: Task, reason: string, viaHealth: boolean): void {
  const before = b.slotOf(service.id, task.slot);
  const failures = before.failures + 1;
  const r = service.spec.restart;
  const gaveUp = r.maxAttempts > 0 && failures > r.maxAttempts;
  const delayMs = failures === 1 ? 0 : backoffDelay({ initialMs: r.delayMs, maxMs: r.maxDelayMs }, failures - 2);
  const nextAttemptAt = b.now + delayMs;
  b.putSlot({
    ...before,
    failures,
    lastFailureAt: b.now,
    nextAttemptAt,
    // Once a health verdict starts a streak of failures, the slot stays out for health until it is
    // forgiven: a replacement that then crashes or cannot pull its image must not free the budget.
    healthFailure: viaHealth || (before.failures > 0 && before.healthFailure),
    gaveUp,
    lastReason: reason,
  });
  const at = {
    serviceId: service.id,
    service: service.spec.name,
    taskId: task.id,
    slot: task.slot,
    nodeId: task.nodeId,
  };
  if (gaveUp) {
    const limit = `--restart-max-attempts ${r.maxAttempts}`;
    const why = `slot ${task.slot} failed ${failures} times in a row (${limit}): not replaced again`;
    b.event({ ...at, type: 'restart-limit-reached', reason: why });
  } else if (delayMs > 0) {
    const why = `failure ${failures} in a row: next attempt in ${delayMs} ms`;
    b.event({
      ...at,
      type: 'replacement-delayed',
      reason: why,
      data: { attempt: failures, delayMs, dueAt: nextAttemptAt },
    });
  }
}

/** Tasks of a slot that ended (failed, complete, rejected) while they should run: a failure of the slot. */
export function endTasks(b: PlanBuilder, service: Service, tasks: readonly Task[]): void {
  for (const task of tasks) {
    if (task.desiredState !== 'running' || !isTerminal(task.state)) continue;
    b.update(task, { desiredState: 'shutdown', held: false });
    recordFailure(b, service, task, task.error || (task.state === 'complete' ? 'exited' : task.state), false);
  }
}

/**
 * An empty slot gets a new task unless it gave up or waits out a backoff; a slot whose task
 * stays running (and healthy, if it has checks) for --restart-window is forgiven its failures.
 */
export function fillOrForgive(
  b: PlanBuilder,
  service: Service,
  slot: number,
  tasks: readonly Task[],
  live: readonly Task[],
): void {
  const base = { serviceId: service.id, service: service.spec.name };
  const state = b.slotOf(service.id, slot);
  if (live.length === 0) {
    if (state.gaveUp) return;
    if (state.nextAttemptAt > b.now) {
      b.wake(state.nextAttemptAt);
      return;
    }
    const replaces = tasks.filter((t) => isTerminal(t.state)).sort(newestFirst)[0];
    const task = newTask(service, slot, b.input.newId(), b.now, state.healthFailure && state.failures > 0);
    b.create(task);
    b.event({
      ...base,
      type: replaces ? 'task-replaced' : 'task-created',
      taskId: task.id,
      slot,
      reason: replaces ? `replaces ${replaces.id}: ${replaces.error || replaces.state}` : 'new slot',
      ...(replaces ? { data: { replaces: replaces.id, attempt: state.failures } } : {}),
    });
    return;
  }
  if (state.failures === 0) return;
  const task = live[0]!;
  const since = healthyRunSince(task, b.healthOf(task));
  if (task.state !== 'running' || since === 0) return;
  const windowMs = service.spec.restart.windowMs;
  if (b.now - since < windowMs) {
    b.wake(since + windowMs);
    return;
  }
  b.putSlot({ ...state, failures: 0, nextAttemptAt: 0, healthFailure: false, gaveUp: false });
  b.event({
    ...base,
    type: 'backoff-reset',
    taskId: task.id,
    slot,
    nodeId: task.nodeId,
    reason: `healthy for ${windowMs} ms (--restart-window)`,
  });
}

/** Since when a task has run without trouble: its start without checks, else since it turned healthy (0: not). */
function healthyRunSince(task: Task, h: TaskHealthView): number {
  if (h.status === 'none') return task.startedAt;
  return h.status === 'healthy' ? Math.max(h.healthySince ?? 0, task.startedAt) : 0;
}

/** History: the newest ended tasks of each slot are kept for `service ps`; none above the replica count. */
export function trimHistory(
  b: PlanBuilder,
  slot: number,
  wanted: boolean,
  tasks: readonly Task[],
  limit: number,
): void {
  const ended = tasks
    .map((t) => b.current(t))
    .filter((t) => t.desiredState === 'shutdown' && isTerminal(t.state))
    .sort(newestFirst);
  for (const task of wanted ? ended.slice(limit) : ended) b.remove(task);
}

export function newTask(service: Service, slot: number, id: string, now: number, replacing: boolean): Task {
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
