/**
 * What the waiting commands (create, scale, update, rollback) show while they follow a service,
 * and how following ends: the pieces their views share. Pure: follow.ts does the I/O.
 */
import type { wire } from '@warren/api';

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

export interface LineOptions {
  /** Live bars and countdowns (a TTY) or plain lines that change only when the state does (a pipe). */
  tty: boolean;
  now: number;
}

/** What a waiting command follows: its progress lines and its end, from one InspectService snapshot. */
export interface Watch {
  lines(detail: wire.ServiceDetailOut, o: LineOptions): ProgressLine[];
  /** undefined while it goes on. */
  outcome(detail: wire.ServiceDetailOut, now: number): Outcome | undefined;
}

/** Running, and healthy and ready as far as its probes say (ready without a readiness check when running). */
export function good(t: wire.TaskOut): boolean {
  return t.state === 'running' && t.ready && (t.healthStatus === 'healthy' || t.healthStatus === 'none');
}

/** `running`, `running, healthy, ready`, `running, starting, not ready`. */
export function runningWords(t: wire.TaskOut): string {
  const health = t.healthStatus === 'none' ? [] : [t.healthStatus];
  return ['running', ...health, t.ready ? 'ready' : 'not ready'].join(', ');
}

const BAR_WIDTH = 20;

/** `[=======>            ]` for a fill between 0 and 1. */
export function bar(fill: number): string {
  const n = Math.round(Math.min(1, Math.max(0, fill)) * BAR_WIDTH);
  const head = n === 0 ? '' : n === BAR_WIDTH ? '=' : '>';
  return `[${'='.repeat(Math.max(0, n - 1))}${head}${' '.repeat(BAR_WIDTH - n)}]`;
}

/** How far a task that is on its way is, for its bar. */
export const FILL: Readonly<Record<string, number>> = {
  new: 0.1,
  pending: 0.1,
  assigned: 0.2,
  preparing: 0.3,
  starting: 0.5,
};

/** For a pipe: the lines of a snapshot whose text changed since the last one (a line that went away is forgotten). */
export class ChangedLines {
  private shown = new Map<string, string>();

  next(lines: readonly ProgressLine[]): string[] {
    const changed = lines.filter((l) => this.shown.get(l.key) !== l.text).map((l) => l.text);
    this.shown = new Map(lines.map((l) => [l.key, l.text]));
    return changed;
  }
}

/** `1 task`, `2 tasks`. */
export function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}
