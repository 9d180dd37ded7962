/**
 * The progress of `service update` and `service rollback`, from one `InspectService` snapshot: a
 * line per slot, an overall line, the verification wait; and when following is over, how it
 * ended. Pure: the loop around it (follow.ts) does the I/O.
 */
import { formatDuration, type UpdateState } from '@warren/core';
import { specFromWire, type wire } from '@warren/api/convert';
import { columns, shortId } from '../output.js';
import {
  FILL,
  bar,
  good,
  plural,
  runningWords,
  type LineOptions,
  type Outcome,
  type ProgressLine,
  type Watch,
} from './progress.js';

/** The rollout a command asked for. */
export type Following = 'update' | 'rollback';

/** Following an update or a rollback. */
export function rolloutWatch(following: Following): Watch {
  return {
    lines: (detail, o) => progressLines(detail, { ...o, following }),
    outcome: (detail) => followOutcome(detail, following),
  };
}

export interface ProgressOptions extends LineOptions {
  following: Following;
}

type Status = NonNullable<wire.ServiceOut['updateStatus']>;

const ROLLING: readonly string[] = ['updating', 'rollback_started'] satisfies UpdateState[];

/** A rollout's state in words, for people (never the state's name). */
export const STATE_WORDS: Readonly<Record<string, string>> = {
  updating: 'updating',
  paused: 'update paused',
  completed: 'update completed',
  rollback_started: 'rolling back',
  rollback_paused: 'rollback paused',
  rollback_completed: 'rolled back',
} satisfies Record<UpdateState, string>;
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

/** How a rollout that left `updating`/`rollback_started` ends the command that follows it. */
export function rolloutOutcome(name: string, command: Following, status: Status, replicas: number): Outcome {
  const why = status.message ? `: ${status.message}` : '';
  const counts = `${plural(status.succeeded, 'new task')} succeeded, ${status.failed} failed`;
  switch (status.state) {
    case 'completed':
      return command === 'update'
        ? { ok: true, message: `${name}: update completed (${counts})` }
        : { ok: false, message: `${name}: the rollback was replaced by an update, which completed${why}` };
    case 'rollback_completed':
      return command === 'rollback'
        ? { ok: true, message: `${name}: rolled back to the previous version (${plural(replicas, 'replica')})` }
        : { ok: false, message: `${name}: the update was rolled back (${counts})${why}` };
    case 'paused':
      return { ok: false, message: `${name}: update paused (${counts})${why}` };
    case 'rollback_paused':
      return { ok: false, message: `${name}: rollback paused (${counts})${why}` };
    default:
      return { ok: false, message: `${name}: ${STATE_WORDS[status.state] ?? 'the rollout ended'}${why}` };
  }
}

/** Whether following is over, and how: when the rollout leaves `updating`/`rollback_started`. */
export function followOutcome(detail: wire.ServiceDetailOut, following: Following): Outcome | undefined {
  const status = detail.service?.updateStatus;
  if (!status || ROLLING.includes(status.state)) return undefined;
  return rolloutOutcome(detail.service?.spec?.name ?? '', following, status, detail.service?.spec?.replicas ?? 0);
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
  const words = back ? ['rolled back', 'not rolled back'] : ['new spec', 'old spec'];
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
  if (status) lines.push({ key: 'status', text: status.message || (STATE_WORDS[status.state] ?? status.state) });
  const slotTexts = o.tty
    ? columns(rows.map((r) => [`slot ${r.s.slot}`, bar(r.stage.fill), ...r.where, r.state]))
    : rows.map((r) => `slot ${r.s.slot}: ${r.s.task ? `task ${r.where[0]} on ${r.where[1]}: ` : ''}${r.state}`);
  rows.forEach((r, i) => lines.push({ key: `slot ${r.s.slot}`, text: slotTexts[i]! }));
  const done = rows.filter((r) => r.s.current && r.stage.fill === 1).length;
  const doing = back ? 'rolled back' : 'running the new spec';
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
