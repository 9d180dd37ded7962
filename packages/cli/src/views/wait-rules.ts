/**
 * When `service create` and `service scale` are done with a slot they changed, and when they stop
 * waiting for it because its new tasks keep failing (DESIGN 11: commands that wait always come
 * back). Pure: judged on one InspectService snapshot and the time.
 *
 * A slot the command brought in is done when its task runs, healthy and ready (ready counts only
 * where the service has a readiness check). It is stuck, and the wait ends with exit 1, when:
 * - its check keeps failing: every counted run has failed for CHECK_PATIENCE_MS (at least two
 *   runs, across the slot's tasks) — long enough that a slow start is not taken for a broken one
 *   (failures inside a start period are not counted);
 * - its tasks keep ending: ENDED_LIMIT of them ended during the wait (replaced for their check,
 *   or exited, or crashed);
 * - it is rejected REJECTED_LIMIT times (the image: not found, access denied, registry
 *   unreachable; or a container that cannot be created);
 * - it gave up (its --restart-max-attempts ran out);
 * - no node can take its task for NO_NODE_PATIENCE_MS.
 * A slot the command took away is done once its task stopped (the manager drains it first).
 */
import { describeResult, formatDuration, isTerminal, isTaskState, type ProbeHandler } from '@warren/core';
import { resultFromWire, specFromWire, type wire } from '@warren/api/convert';
import { good } from './progress.js';

/** A check failing on every counted run for this long (and at least twice) is not a slow start. */
export const CHECK_PATIENCE_MS = 30_000;
/** Tasks of one slot that ended during the wait before it stops waiting for the slot. */
export const ENDED_LIMIT = 3;
/** Rejections of one slot (its image, its container) before it stops waiting for the slot. */
export const REJECTED_LIMIT = 2;
/** How long a task may wait for a node that can take it. */
export const NO_NODE_PATIENCE_MS = 5_000;

/** What the command changed: the slots it brought in and took away, and the tasks there before it. */
export interface WaitScope {
  up: readonly number[];
  down: readonly number[];
  /** Tasks that existed before the command: the wait judges only tasks made after it. */
  before: ReadonlySet<string>;
}

/** `service create`: every slot is new. */
export function createScope(replicas: number): WaitScope {
  return { up: range(1, replicas), down: [], before: new Set() };
}

/** `service scale NAME=replicas`, from the service as it was before the command. */
export function scaleScope(before: wire.ServiceDetailOut, replicas: number): WaitScope {
  const was = before.service?.spec?.replicas ?? 0;
  return {
    up: range(was + 1, replicas),
    down: range(replicas + 1, was),
    before: new Set(before.tasks.map((t) => t.id)),
  };
}

function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);
}

/** A slot brought in: done, on its way (with its last reason, '' when none), or stuck. */
export type UpSlot =
  | { slot: number; kind: 'done'; task: wire.TaskOut }
  | { slot: number; kind: 'waiting'; task?: wire.TaskOut; note: string }
  | { slot: number; kind: 'stuck'; task?: wire.TaskOut; note: string; reason: string; next: string };

/** A slot taken away: its task still stops, or it is gone. */
export type DownSlot = { slot: number; kind: 'stopping'; task: wire.TaskOut } | { slot: number; kind: 'stopped' };

const terminal = (t: wire.TaskOut): boolean => isTaskState(t.state) && isTerminal(t.state);
const newestFirst = (a: wire.TaskOut, b: wire.TaskOut): number => b.createdAtMs - a.createdAtMs;

/** A slot taken away is done once none of its tasks runs any more. */
export function judgeDown(detail: wire.ServiceDetailOut, slot: number): DownSlot {
  const task = detail.tasks.filter((t) => t.slot === slot && !terminal(t)).sort(newestFirst)[0];
  return task ? { slot, kind: 'stopping', task } : { slot, kind: 'stopped' };
}

/** Judges a slot the command brought in; `now` is the CLI's clock. */
export function judgeUp(detail: wire.ServiceDetailOut, scope: WaitScope, slot: number, now: number): UpSlot {
  const mine = detail.tasks.filter((t) => t.slot === slot && !scope.before.has(t.id)).sort(newestFirst);
  const task = mine.find((t) => t.desiredState === 'running' && !terminal(t));
  if (task && good(task)) return { slot, kind: 'done', task };
  const ended = mine.filter((t) => t !== task && terminal(t));
  const status = detail.slots.find((s) => s.slot === slot);
  const nextTry =
    status && status.nextAttemptAtMs > now ? `in ${formatDuration(roundUp(status.nextAttemptAtMs - now))}` : '';
  const note = slotNote(task, ended[0], nextTry);
  const stuck = (reason: string, next: string): UpSlot => ({
    slot,
    kind: 'stuck',
    ...(task ? { task } : {}),
    note,
    reason,
    next,
  });

  if (status?.gaveUp && !task) {
    return stuck(status.lastReason || ended[0]?.error || 'it gave up', 'the manager does not replace it again');
  }
  const again = `the manager tries again${nextTry ? ` ${nextTry}` : ''}`;
  const rejected = ended.filter((t) => t.state === 'rejected');
  if (rejected.length >= REJECTED_LIMIT) {
    return stuck(`rejected ${times(rejected.length)}: ${rejected[0]!.error || 'rejected'}`, again);
  }
  const check = failingCheck(mine);
  const replaced = ended.filter((t) => /^(startup|liveness) probe failed: /.test(t.error)).length;
  if (check && (replaced >= ENDED_LIMIT || (check.count >= 2 && check.spanMs >= CHECK_PATIENCE_MS))) {
    const how =
      replaced > 0 ? plural(replaced, 'replacement') : `failing for ${formatDuration(roundUp(check.spanMs))}`;
    const next = check.replaces
      ? 'the manager keeps replacing them'
      : 'its tasks get no traffic until the check passes';
    return stuck(`${check.words} (${how})`, next);
  }
  if (ended.length >= ENDED_LIMIT) {
    return stuck(
      `${ended[0]!.error || ended[0]!.state} (${ended.length} tasks ended)`,
      'the manager keeps replacing them',
    );
  }
  if (
    task &&
    task.state === 'pending' &&
    /^no .*node/.test(task.message) &&
    now - task.updatedAtMs >= NO_NODE_PATIENCE_MS
  ) {
    return stuck(task.message, 'it starts as soon as a node can take it');
  }
  return { slot, kind: 'waiting', ...(task ? { task } : {}), note };
}

/** 1.2s → 2s: a countdown never says 0s while there is time left. */
function roundUp(ms: number): number {
  return Math.ceil(ms / 1000) * 1000;
}

function times(n: number): string {
  return n === 2 ? 'twice' : `${n} times`;
}

function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

/**
 * The slot's last reason, for its progress line: the task's last check when it failed, or how the
 * slot's last task ended and when the next one comes: `last check HTTP 500`,
 * `rejected: registry unreachable, next try in 16s`.
 */
function slotNote(task: wire.TaskOut | undefined, lastEnded: wire.TaskOut | undefined, nextTry: string): string {
  if (task?.state === 'running') {
    const last = lastRun(task);
    return last && last.result.outcome !== 'success' ? `last check ${resultWords(last.kind, last.result)}` : '';
  }
  if (!lastEnded) return '';
  const why = shortReason(lastEnded.error || lastEnded.state);
  const ended = lastEnded.state === 'rejected' || lastEnded.state === 'failed' ? lastEnded.state : 'ended';
  const then = task ? '' : nextTry ? `, next try ${nextTry}` : '';
  return `last task ${ended}: ${why}${then}`;
}

/** `registry unreachable: ref: the engine's words` → `registry unreachable`; other reasons cut to 80 characters. */
export function shortReason(error: string): string {
  const pull = /^(image not found|pull access denied|registry unreachable|image not present|image pull failed): /.exec(
    error,
  );
  if (pull) return pull[1]!;
  return error.length > 80 ? `${error.slice(0, 79)}…` : error;
}

interface Run {
  phase: string;
  kind: ProbeHandler['kind'];
  handler: ProbeHandler;
  result: wire.ProbeResultOut;
}

/** A task's probe runs, newest first, each once (a `--health-*` check feeds two phases the same run). */
function runsOf(task: wire.TaskOut): Run[] {
  const health = specFromWire(task.spec).health;
  const probes: Record<string, ProbeHandler | undefined> = {
    startup: health.startup?.handler,
    liveness: (health.liveness ?? health.check)?.handler,
    readiness: (health.readiness ?? health.check)?.handler,
  };
  const seen = new Map<string, Run>();
  // Startup before liveness before readiness: a run fed to two phases is named by the one that replaces.
  const order = ['startup', 'liveness', 'readiness'];
  const phases = [...task.health].sort((a, b) => order.indexOf(a.phase) - order.indexOf(b.phase));
  for (const p of phases) {
    const handler = probes[p.phase];
    if (!handler) continue;
    for (const result of p.results) {
      const key = `${result.atMs}/${handler.kind}/${result.outcome}/${result.output}`;
      if (!seen.has(key)) seen.set(key, { phase: p.phase, kind: handler.kind, handler, result });
    }
  }
  return [...seen.values()].sort((a, b) => b.result.atMs - a.result.atMs);
}

function lastRun(task: wire.TaskOut): Run | undefined {
  return runsOf(task).find((r) => r.result.outcome !== 'unknown') ?? runsOf(task)[0];
}

/**
 * The slot's check failing on every counted run since its last success, across its tasks
 * (newest first): how many runs, over how long, and the newest in words. A task whose kept
 * results (the manager keeps 10) are all failures counts as failing since it started.
 */
function failingCheck(
  tasks: readonly wire.TaskOut[],
): { count: number; spanMs: number; words: string; replaces: boolean } | undefined {
  let count = 0;
  let newest: Run | undefined;
  let since = Infinity;
  for (const task of tasks) {
    const counted = runsOf(task).filter((r) => r.result.counted);
    for (const run of counted) {
      if (run.result.outcome === 'success') return summary();
      newest ??= run;
      count++;
      since = run.result.atMs;
    }
    const streaks = task.health.map((p) => p.failureStreak);
    if (counted.length > 0 && Math.max(0, ...streaks) > counted.length && task.startedAtMs > 0) {
      since = Math.min(since, task.startedAtMs);
    }
  }
  return summary();

  function summary() {
    if (!newest) return undefined;
    const replaces = newest.phase !== 'readiness';
    return { count, spanMs: newest.result.atMs - since, words: checkWords(newest), replaces };
  }
}

/** `liveness HTTP GET :8080/health → 500`, `readiness exec "test -f /ready" → exit code 1`. */
function checkWords(run: Run): string {
  return `${run.phase} ${handlerWords(run.handler)} → ${resultWords(run.kind, run.result, true)}`;
}

function handlerWords(h: ProbeHandler): string {
  switch (h.kind) {
    case 'http':
      return `${h.scheme.toUpperCase()} GET :${h.port}${h.path}`;
    case 'tcp':
      return `TCP :${h.port}`;
    case 'grpc':
      return `gRPC :${h.port}${h.service ? ` (${h.service})` : ''}`;
    case 'exec': {
      const shell = h.command[0] === '/bin/sh' && h.command[1] === '-c';
      return `exec ${JSON.stringify(shell ? h.command[2] : h.command.join(' '))}`;
    }
  }
}

/** `HTTP 500`, `exit code 1: not ready`, `timed out after 1s`; after an HTTP handler's words, just `500`. */
function resultWords(kind: ProbeHandler['kind'], r: wire.ProbeResultOut, bare = false): string {
  if (bare && kind === 'http' && r.hasCode) return String(r.code);
  return describeResult(kind, resultFromWire(r));
}
