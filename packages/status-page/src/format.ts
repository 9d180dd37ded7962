/** Words and numbers as the page writes them (the CLI's conventions: `3s ago`, `1m30s`). */
import type { ServiceSummary, TaskHealth } from './model.js';

/** `450ms`, `12s`, `3m20s`, `2h5m`. */
export function duration(ms: number): string {
  const v = Math.max(0, Math.round(ms));
  if (v < 1000) return `${v}ms`;
  const s = Math.floor(v / 1000);
  if (s < 60) return v < 10_000 ? `${(v / 1000).toFixed(1).replace(/\.0$/, '')}s` : `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 ? `${m}m${s % 60}s` : `${m}m`;
  const h = Math.floor(m / 60);
  return m % 60 ? `${h}h${m % 60}m` : `${h}h`;
}

/** `3s ago`; `just now` under a second; `-` for 0 (never). */
export function ago(at: number, now: number): string {
  if (!at) return '-';
  const ms = now - at;
  return ms < 1000 ? 'just now' : `${duration(ms)} ago`;
}

/** `14:03:10`, local time. */
export function clock(at: number): string {
  return new Date(at).toLocaleTimeString([], { hour12: false });
}

/** A symbol for each health, so that health never rests on colour alone. */
export const HEALTH_SYMBOL: Record<TaskHealth, string> = {
  healthy: '✓',
  unhealthy: '✗',
  starting: '…',
  none: '–',
};

export type Verdict = 'ok' | 'degraded' | 'failing';

/** How a service is doing, in one word: what its row and badge say first. */
export function verdict(s: ServiceSummary): Verdict {
  if (s.health.unhealthy > 0 || s.correlatedSince > 0 || (s.replicas > 0 && s.running === 0)) return 'failing';
  const settled = s.checks ? s.health.healthy === s.replicas : s.running === s.replicas;
  const updating = s.update?.state === 'updating' || s.update?.state === 'rollback_started';
  return settled && !updating && s.health.notRunning === 0 ? 'ok' : 'degraded';
}

/** `3/3 healthy`, then the other states present: `2/3 healthy, 1 unhealthy, 1 not running`. */
export function healthText(s: ServiceSummary): string {
  const h = s.health;
  const head = s.checks ? `${h.healthy}/${s.replicas} healthy` : `${s.running}/${s.replicas} running (no checks)`;
  const rest = [
    ...(s.checks && h.starting > 0 ? [`${h.starting} starting`] : []),
    ...(s.checks && h.unhealthy > 0 ? [`${h.unhealthy} unhealthy`] : []),
    ...(h.notRunning > 0 ? [`${h.notRunning} not running`] : []),
  ];
  return [head, ...rest].join(', ');
}

/** `0 of at most 1 replacing`, `1 held back` when the budget holds some. */
export function replacingText(s: ServiceSummary): string {
  const held = s.held > 0 ? `; ${s.held} unhealthy held back` : '';
  return `${s.replacing} of at most ${s.budget}${held}`;
}

/** `updating: slot 2 …`, `completed 3m ago`; '' when there was no rollout. */
export function updateText(s: ServiceSummary, now: number): string {
  const u = s.update;
  if (!u) return '';
  const when = u.completedAt ? ` ${ago(u.completedAt, now)}` : ` (since ${ago(u.startedAt, now)})`;
  return `${u.state.replace('_', ' ')}${when}${u.message ? `: ${u.message}` : ''}`;
}
