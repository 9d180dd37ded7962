/**
 * The progress of `service update`, `service rollback` (and `create`/`scale --wait`), from one
 * `InspectService` snapshot: a line per slot, an overall line, the verification wait; and when
 * following is over, how it ended. Pure: the loop around it (follow.ts) does the I/O.
 */
import { formatDuration, type UpdateState } from '@warren/core';
import { specFromWire, type wire } from '@warren/api';
import { columns, shortId } from '../output.js';

/** What the CLI follows: a rollout it asked for, or the replicas converging (create, scale). */
export type Following = 'update' | 'rollback' | 'converge';

/** How following ended: exit 0 (`ok`) or 1, and why in words. */
export interface Outcome {
  ok: boolean;
  message: string;
}

/** One line of progress; `key` says which line it is, so a pipe gets a line only when its text changes. */
export interface ProgressLine {
  key: string;
  text: string;
}

export interface ProgressOptions {
  following: Following;
  /** Live bars and a countdown (a TTY) or plain lines that change only when the state does (a pipe). */
  tty: boolean;
  now: number;
}

type Status = NonNullable<wire.ServiceOut['updateStatus']>;

const ROLLING: readonly string[] = ['updating', 'rollback_started'] satisfies UpdateState[];
const BAR_WIDTH = 20;

/**
 * Whether a task runs the service's spec: the same spec, replicas and the update and rollback
 * policies aside (changing those rolls no task over). Compared as the manager sent them, with
 * specFromWire's defaults so that an unset field equals its default.
 */
export function onSpec(task: wire.TaskOut, spec: wire.ServiceSpecOut | null): boolean {
  return rolloutKey(task.spec) === rolloutKey(spec);
}

function rolloutKey(spec: wire.ServiceSpecOut | null): string {
  return JSON.stringify({ ...specFromWire(spec), replicas: 0, update: null, rollback: null });
}

/** Running, and healthy and ready as far as its probes say. */
function good(t: wire.TaskOut): boolean {
  return t.state === 'running' && t.ready && (t.healthStatus === 'healthy' || t.healthStatus === 'none');
}

/** Since when a good task has been good, as far as the CLI can tell (for the verification wait). */
function goodSince(t: wire.TaskOut): number {
  const turned = t.health.filter((p) => p.status === 'healthy').map((p) => p.lastTransitionAtMs);
  return Math.max(t.startedAtMs, ...turned);
}

interface Slot {
  slot: number;
  /** The task shown: the one on the service's spec if the slot has one, else the newest. */
  task: wire.TaskOut | undefined;
  current: boolean;
  /** Another task of the slot still meant to run (start-first: the old one serves until its successor succeeded). */
  others: number;
}

function slotsOf(detail: wire.ServiceDetailOut): Slot[] {
  const spec = detail.service?.spec ?? null;
  const live = detail.tasks.filter((t) => t.desiredState === 'running');
  const numbers = new Set([
    ...Array.from({ length: spec?.replicas ?? 0 }, (_, i) => i + 1),
    ...live.map((t) => t.slot),
  ]);
  return [...numbers]
    .sort((a, b) => a - b)
    .map((slot) => {
      const tasks = live.filter((t) => t.slot === slot).sort((a, b) => b.createdAtMs - a.createdAtMs);
      const task = tasks.find((t) => onSpec(t, spec)) ?? tasks[0];
      return { slot, task, current: task !== undefined && onSpec(task, spec), others: tasks.length - 1 };
    });
}

/** Every replica runs the service's spec, good, and no other task is meant to run. */
export function converged(detail: wire.ServiceDetailOut): boolean {
  const replicas = detail.service?.spec?.replicas ?? 0;
  const slots = slotsOf(detail);
  return slots.length === replicas && slots.every((s) => s.current && s.others === 0 && good(s.task!));
}

/** How a rollout that left `updating`/`rollback_started` ends the command that follows it. */
export function rolloutOutcome(name: string, command: 'update' | 'rollback', status: Status): Outcome {
  const why = status.message ? `: ${status.message}` : '';
  const counts = `${status.succeeded} new task${status.succeeded === 1 ? '' : 's'} succeeded, ${status.failed} failed`;
  switch (status.state) {
    case 'completed':
      return command === 'update'
        ? { ok: true, message: `${name}: update completed (${counts})` }
        : { ok: false, message: `${name}: the rollback was replaced by an update, which completed${why}` };
    case 'rollback_completed':
      return command === 'rollback'
        ? { ok: true, message: `${name}: rollback completed (${counts})` }
        : { ok: false, message: `${name}: the update was rolled back (${counts})${why}` };
    case 'paused':
      return { ok: false, message: `${name}: update paused (${counts})${why}` };
    case 'rollback_paused':
      return { ok: false, message: `${name}: rollback paused (${counts})${why}` };
    default:
      return { ok: false, message: `${name}: the rollout ended ${status.state}${why}` };
  }
}

/**
 * Whether following is over, and how: a rollout when it leaves `updating`/`rollback_started`
 * (without an update status, or for create and scale: when every replica runs the spec, good,
 * or a slot gave up).
 */
export function followOutcome(detail: wire.ServiceDetailOut, following: Following): Outcome | undefined {
  const name = detail.service?.spec?.name ?? '';
  const status = detail.service?.updateStatus;
  if (following !== 'converge' && status) {
    return ROLLING.includes(status.state) ? undefined : rolloutOutcome(name, following, status);
  }
  const replicas = detail.service?.spec?.replicas ?? 0;
  if (converged(detail)) return { ok: true, message: `${name}: ${replicas}/${replicas} running` };
  // A slot that gave up (its restart attempts or health replacements ran out) will not converge by itself.
  const gaveUp = detail.slots.find((s) => s.gaveUp && s.slot <= replicas);
  if (gaveUp) {
    const why = gaveUp.lastReason ? `: ${gaveUp.lastReason}` : '';
    return { ok: false, message: `${name}: slot ${gaveUp.slot} gave up${why}; see warren service ps ${name}` };
  }
  return undefined;
}

/** The progress lines of one snapshot: the rollout's state, a line per slot, the overall line, the wait. */
export function progressLines(detail: wire.ServiceDetailOut, o: ProgressOptions): ProgressLine[] {
  const service = detail.service!;
  const spec = specFromWire(service.spec);
  const status = service.updateStatus;
  const rolling = status !== null && ROLLING.includes(status.state);
  // An update (forward) or a rollback (back), while it rolls and once it ended.
  const back = status?.state.startsWith('rollback') ?? false;
  const monitorMs = rolling ? (back ? spec.rollback : spec.update).monitorMs : 0;
  const rollout = o.following !== 'converge' && status !== null;
  const words = rollout ? (back ? ['rolled back', 'not rolled back'] : ['new spec', 'old spec']) : ['', 'old spec'];
  const slots = slotsOf(detail);
  const verifying: number[] = [];
  const rows = slots.map((s) => {
    const stage = slotStage(s, monitorMs, o.now);
    if (stage.verifyingLeft !== undefined) verifying.push(stage.verifyingLeft);
    const which = s.task ? words[s.current ? 0 : 1]! : '';
    const state = [which, stage.words, s.others > 0 ? 'old task still running' : ''].filter((w) => w).join(', ');
    const where = s.task ? [shortId(s.task.id), s.task.nodeName || '-'] : ['-', '-'];
    return { s, stage, state, where };
  });
  const lines: ProgressLine[] = [];
  if (status && (rollout || rolling)) {
    lines.push({ key: 'status', text: `${status.state}${status.message ? `: ${status.message}` : ''}` });
  }
  const slotTexts = o.tty
    ? columns(rows.map((r) => [`slot ${r.s.slot}`, bar(r.stage.fill), ...r.where, r.state]))
    : rows.map((r) => `slot ${r.s.slot}: ${r.s.task ? `task ${r.where[0]} on ${r.where[1]}: ` : ''}${r.state}`);
  rows.forEach((r, i) => lines.push({ key: `slot ${r.s.slot}`, text: slotTexts[i]! }));
  const done = rows.filter((r) => r.s.current && r.stage.fill === 1).length;
  const doing = rollout ? (back ? 'rolled back' : 'running the new spec') : 'running';
  lines.push({ key: 'overall', text: `${done}/${spec.replicas}: ${doing}` });
  if (verifying.length > 0) {
    const noun = back ? 'rolled-back task' : 'new task';
    const whom = verifying.length === 1 ? `the ${noun}` : `${verifying.length} ${noun}s`;
    const wait = o.tty ? `${formatDuration(Math.max(...verifying))} left` : `waiting ${formatDuration(monitorMs)}`;
    lines.push({ key: 'verifying', text: `verifying: ${wait} for ${whom} to stay healthy and ready` });
  }
  return lines;
}

interface Stage {
  words: string;
  /** How far the slot is, 0 to 1, for its bar. */
  fill: number;
  /** Set while a good new task waits out the monitor period: how long it still has to go. */
  verifyingLeft?: number;
}

const FILL: Record<string, number> = { new: 0.1, pending: 0.1, assigned: 0.2, preparing: 0.3, starting: 0.5 };

function slotStage(s: Slot, monitorMs: number, now: number): Stage {
  const t = s.task;
  if (!t) return { words: 'no task yet', fill: 0 };
  const words = t.state === 'running' ? runningWords(t) : t.state;
  const detail = t.error || (t.state === 'running' ? '' : t.message);
  const described = detail ? `${words} (${detail})` : words;
  if (!s.current) return { words: described, fill: 0 };
  if (t.state !== 'running') return { words: described, fill: FILL[t.state] ?? 0 };
  if (!good(t)) return { words: described, fill: 0.7 };
  const left = monitorMs - (now - goodSince(t));
  if (monitorMs === 0 || left <= 0) return { words: described, fill: 1 };
  const verifyingLeft = Math.min(monitorMs, Math.ceil(left / 1000) * 1000);
  return { words: `${described}, verifying`, fill: 0.8 + (0.2 * (monitorMs - left)) / monitorMs, verifyingLeft };
}

/** `running`, `running, healthy, ready`, `running, starting, not ready`. */
function runningWords(t: wire.TaskOut): string {
  const health = t.healthStatus === 'none' ? [] : [t.healthStatus];
  return ['running', ...health, t.ready ? 'ready' : 'not ready'].join(', ');
}

function bar(fill: number): string {
  const n = Math.round(Math.min(1, Math.max(0, fill)) * BAR_WIDTH);
  const head = n === 0 ? '' : n === BAR_WIDTH ? '=' : '>';
  return `[${'='.repeat(Math.max(0, n - 1))}${head}${' '.repeat(BAR_WIDTH - n)}]`;
}

/** For a pipe: the lines of a snapshot whose text changed since the last one (a line that went away is forgotten). */
export class ChangedLines {
  private shown = new Map<string, string>();

  next(lines: readonly ProgressLine[]): string[] {
    const changed = lines.filter((l) => this.shown.get(l.key) !== l.text).map((l) => l.text);
    this.shown = new Map(lines.map((l) => [l.key, l.text]));
    return changed;
  }
}
