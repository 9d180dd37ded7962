/**
 * The progress of `service create` and `service scale`: a line per slot the command changed (with
 * its last reason), an overall line; and when following is over, how it ended (wait-rules.ts
 * decides). Pure: the loop around it (follow.ts) does the I/O.
 */
import { specFromWire, type wire } from '@warren/api/convert';
import { columns, shortId } from '../output.js';
import { FILL, bar, good, plural, runningWords, type LineOptions, type ProgressLine, type Watch } from './progress.js';
import { judgeDown, judgeUp, type DownSlot, type UpSlot, type WaitScope } from './wait-rules.js';

/** Following a create (`created`: every slot is new) or a scale. */
export function convergeWatch(scope: WaitScope, command: 'create' | 'scale'): Watch {
  return {
    lines: (detail, o) => convergeLines(detail, scope, o),
    outcome: (detail, now) => convergeOutcome(detail, scope, command, now),
  };
}

function judged(detail: wire.ServiceDetailOut, scope: WaitScope, now: number): { up: UpSlot[]; down: DownSlot[] } {
  return {
    up: scope.up.map((slot) => judgeUp(detail, scope, slot, now)),
    down: scope.down.map((slot) => judgeDown(detail, slot)),
  };
}

/** Every replica that runs, healthy and ready, whether the command changed its slot or not. */
function goodCount(detail: wire.ServiceDetailOut): number {
  const replicas = detail.service?.spec?.replicas ?? 0;
  const slots = new Set(
    detail.tasks.filter((t) => t.slot <= replicas && t.desiredState === 'running' && good(t)).map((t) => t.slot),
  );
  return slots.size;
}

/** Over when every changed slot is done, or one is stuck (exit 1 with its reason). */
export function convergeOutcome(
  detail: wire.ServiceDetailOut,
  scope: WaitScope,
  command: 'create' | 'scale',
  now: number,
): { ok: boolean; message: string } | undefined {
  const name = detail.service?.spec?.name ?? '';
  const replicas = detail.service?.spec?.replicas ?? 0;
  const { up, down } = judged(detail, scope, now);
  const stuck = up.find((s) => s.kind === 'stuck');
  if (stuck?.kind === 'stuck') {
    const checked = Object.keys(specFromWire(detail.service?.spec ?? null).health).length > 0;
    const count = `${goodCount(detail)}/${replicas} ${checked ? 'healthy' : 'running'}`;
    return { ok: false, message: `${name}: ${count} — ${stuck.reason}; ${stuck.next}: warren service ps ${name}` };
  }
  if (!up.every((s) => s.kind === 'done') || !down.every((s) => s.kind === 'stopped')) return undefined;
  if (command === 'create') return { ok: true, message: `${name}: ${replicas}/${replicas} running` };
  const parts = [
    ...(up.length > 0 ? [`${plural(up.length, 'new task')} running`] : []),
    ...(down.length > 0 ? [`${plural(down.length, 'task')} stopped`] : []),
  ];
  const what = parts.length > 0 ? parts.join(', ') : 'nothing to change';
  return { ok: true, message: `${name}: ${what} (${plural(replicas, 'replica')})` };
}

/** A line per changed slot and the overall line. */
export function convergeLines(detail: wire.ServiceDetailOut, scope: WaitScope, o: LineOptions): ProgressLine[] {
  const replicas = detail.service?.spec?.replicas ?? 0;
  const { up, down } = judged(detail, scope, o.now);
  const rows = [
    ...up.map((s) => ({ slot: s.slot, task: s.task, words: upWords(s), fill: upFill(s) })),
    ...down.map((s) =>
      s.kind === 'stopping'
        ? { slot: s.slot, task: s.task, words: `stopping (scaled down)`, fill: 0.5 }
        : { slot: s.slot, task: undefined, words: 'stopped (scaled down)', fill: 1 },
    ),
  ];
  const where = (t: wire.TaskOut | undefined): string[] => (t ? [shortId(t.id), t.nodeName || '-'] : ['-', '-']);
  const texts = o.tty
    ? columns(rows.map((r) => [`slot ${r.slot}`, bar(r.fill), ...where(r.task), r.words]))
    : rows.map((r) => `slot ${r.slot}: ${r.task ? `task ${where(r.task).join(' on ')}: ` : ''}${r.words}`);
  const lines = rows.map((r, i) => ({ key: `slot ${r.slot}`, text: texts[i]! }));
  const stopping = down.filter((s) => s.kind === 'stopping').length;
  const left = stopping > 0 ? `; stopping ${plural(stopping, 'task')}` : '';
  const overall = `${goodCount(detail)}/${replicas}: running${left}`;
  return [...lines, { key: 'overall', text: overall }];
}

/** `running, starting, not ready — last check HTTP 500`, `preparing (pulling 42% of 3.1 MB)`. */
function upWords(s: UpSlot): string {
  const t = s.task;
  const note = s.kind === 'done' ? '' : s.note;
  const state = !t
    ? note
      ? 'no task running'
      : 'no task yet'
    : t.state === 'running'
      ? runningWords(t)
      : t.message
        ? `${t.state} (${t.message})`
        : t.state;
  return note ? `${state} — ${note}` : state;
}

function upFill(s: UpSlot): number {
  if (s.kind === 'done') return 1;
  if (!s.task) return 0;
  return s.task.state === 'running' ? 0.7 : (FILL[s.task.state] ?? 0);
}
