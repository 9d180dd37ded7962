/**
 * Following a service after `create`, `scale`, `update` and `rollback`, as `docker service`
 * does: poll InspectService, show the progress (live bars on a TTY, plain lines on a pipe,
 * only when something changed), stop when the rollout ends, or the slots the command changed are
 * done or stuck (views/wait-rules.ts).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Command } from 'commander';
import { formatDuration } from '@warren/core';
import { isUnavailable, type wire } from '@warren/api/client';
import { controlSession } from './context.js';
import { CliError } from './errors.js';
import { ChangedLines, type ProgressLine, type Watch } from './views/progress.js';

/** How often the CLI asks the manager while it follows. */
export const POLL_INTERVAL_MS = 500;

/** Where the progress goes: stdout, or (tests) any stream; a TTY gets live bars. */
export type ProgressStream = NodeJS.WritableStream & { isTTY?: boolean; columns?: number };

export interface FollowOptions {
  /** What the command waits for: a rollout (rolloutWatch) or the slots it changed (convergeWatch). */
  watch: Watch;
  timeoutMs: number;
  /** Default: POLL_INTERVAL_MS. */
  intervalMs?: number;
  /** Default: process.stdout. */
  out?: ProgressStream;
}

/**
 * Follows service `name` until `watch` says it is over; resolves when that is a success, throws a
 * CliError (exit 1) saying why otherwise.
 * A manager that cannot be reached for a while is waited for: a restarted manager resumes the rollout.
 */
export async function follow(command: Command, name: string, o: FollowOptions): Promise<void> {
  const out: ProgressStream = o.out ?? process.stdout;
  const screen = out.isTTY ? new LiveScreen(out) : new PlainScreen(out);
  const session = await controlSession(command);
  const deadline = Date.now() + o.timeoutMs;
  let shown: ProgressLine[] = [];
  const poll = async (): Promise<wire.ServiceDetailOut | undefined> => {
    try {
      return await session.call<wire.ServiceDetailOut>((c) => c.InspectService, { name });
    } catch (err) {
      if (!(err instanceof CliError) || !isUnavailable(err.cause)) throw err;
      screen.show([...shown, { key: 'lost', text: `${err.message.replace(/;.*$/, '')}; retrying` }]);
      return undefined;
    }
  };
  try {
    for (;;) {
      const detail = await poll();
      if (detail) {
        const now = Date.now();
        shown = o.watch.lines(detail, { tty: screen.tty, now });
        screen.show(shown);
        const outcome = o.watch.outcome(detail, now);
        if (outcome?.ok) return void out.write(`${outcome.message}\n`);
        if (outcome) throw new CliError(outcome.message, 1);
      }
      if (Date.now() >= deadline) {
        const where = shown.find((l) => l.key === 'overall')?.text ?? 'no answer from the manager';
        const after = `still not done after ${formatDuration(o.timeoutMs)} (${where})`;
        throw new CliError(`${name}: ${after}; it goes on without the CLI: warren service inspect ${name}`, 1);
      }
      await sleep(o.intervalMs ?? POLL_INTERVAL_MS);
    }
  } finally {
    session.close();
  }
}

interface Screen {
  readonly tty: boolean;
  show(lines: readonly ProgressLine[]): void;
}

/** A pipe: each line once, and again only when its text changed. */
class PlainScreen implements Screen {
  readonly tty = false;
  private readonly changed = new ChangedLines();
  constructor(private readonly out: NodeJS.WritableStream) {}

  show(lines: readonly ProgressLine[]): void {
    const text = this.changed.next(lines);
    if (text.length > 0) this.out.write(`${text.join('\n')}\n`);
  }
}

/** A TTY: the lines redrawn in place (cursor up over the last frame), each cut to the width. */
class LiveScreen implements Screen {
  readonly tty = true;
  private drawn = 0;
  constructor(private readonly out: ProgressStream) {}

  show(lines: readonly ProgressLine[]): void {
    const width = Math.max(20, (this.out.columns || 80) - 1);
    const up = this.drawn > 0 ? `\x1b[${this.drawn}F` : '';
    const body = lines.map((l) => `\x1b[2K${l.text.slice(0, width)}\n`).join('');
    this.out.write(`${up}${body}\x1b[0J`);
    this.drawn = lines.length;
  }
}
