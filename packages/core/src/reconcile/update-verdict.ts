import { formatDuration } from '../duration.js';
import type { ServiceSpec } from '../spec.js';
import { isTerminal, type Task } from '../task.js';
import type { TaskHealthView } from './types.js';

/**
 * What a rollout makes of one of its new tasks: a success, a failure (`stop`: it still runs and
 * the rollout stops it), or not yet (`at`: when to look again, if time alone can decide).
 */
export type Verdict =
  | { outcome: 'success'; reason: string }
  | { outcome: 'failure'; reason: string; stop: boolean }
  | { outcome: 'pending'; at?: number };

/** How long past its stop timeout a rollout's new task may wait for room on a node. */
export const PLACEMENT_GRACE_MS = 10_000;

/**
 * A new task succeeds when it runs, healthy (or without checks) and ready, and has been so for
 * `monitorMs`; it fails when it ends on its own, its startup or liveness fails, or it is not
 * healthy and ready by its deadline. A task not yet running (pulling, starting) has no deadline,
 * but one no node has room for fails after the stop timeout and PLACEMENT_GRACE_MS.
 * `trusted`: its node's verdicts count (its worker reaches the engine); otherwise only an end does.
 */
export function judgeTask(task: Task, h: TaskHealthView, monitorMs: number, now: number, trusted: boolean): Verdict {
  if (isTerminal(task.state)) {
    if (task.desiredState !== 'running') return { outcome: 'pending' };
    const why = task.error || (task.state === 'complete' ? 'exited' : task.state);
    return { outcome: 'failure', reason: why, stop: false };
  }
  if (task.state === 'pending' && task.message.startsWith('no node has')) {
    // No room for its reservation: old tasks stopping free theirs within their stop timeout.
    const deadline = task.createdAt + task.spec.stopTimeoutMs + PLACEMENT_GRACE_MS;
    if (now >= deadline) return { outcome: 'failure', reason: `not placed: ${task.message}`, stop: true };
    return { outcome: 'pending', at: deadline };
  }
  if (task.state !== 'running' || !trusted) return { outcome: 'pending' };
  if (h.failing) return { outcome: 'failure', reason: h.failing.reason, stop: true };
  if (isGood(h)) {
    const healthySince = h.status === 'healthy' ? (h.healthySince ?? 0) : 0;
    const since = Math.max(task.startedAt, healthySince, h.readySince ?? task.startedAt);
    if (now - since >= monitorMs) {
      return { outcome: 'success', reason: `running, healthy and ready for ${formatDuration(monitorMs)}` };
    }
    return { outcome: 'pending', at: since + monitorMs };
  }
  const deadlineMs = rolloutDeadlineMs(task.spec, monitorMs);
  if (now - task.startedAt >= deadlineMs) {
    const reason = `not healthy and ready within ${formatDuration(deadlineMs)} of starting`;
    return { outcome: 'failure', reason, stop: true };
  }
  return { outcome: 'pending', at: task.startedAt + deadlineMs };
}

/** Healthy (or without checks) and ready; a view that does not say is ready only without checks. */
export function isGood(h: TaskHealthView): boolean {
  return (h.status === 'healthy' || h.status === 'none') && (h.ready ?? h.status === 'none');
}

/**
 * How long after it started a new task may take to be healthy and ready: for each probe, its
 * start period plus enough intervals to pass its thresholds (and a timeout); the largest, and at
 * least `monitorMs`.
 */
export function rolloutDeadlineMs(spec: Pick<ServiceSpec, 'health'>, monitorMs: number): number {
  const { startup, liveness, readiness, check } = spec.health;
  const probes = [startup, liveness, readiness, check].filter((p) => p !== undefined);
  const needs = probes.map(
    (p) => p.startPeriodMs + p.intervalMs * Math.max(p.retries, p.successThreshold) + p.timeoutMs,
  );
  return Math.max(monitorMs, ...needs);
}
