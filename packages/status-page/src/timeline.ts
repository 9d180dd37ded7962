/**
 * A task's recent runs of one check, drawn as a small SVG chart: one bar per run, at its time,
 * as tall as it took; its outcome is a shape on top (● success, ✕ failure, ? unknown) as well as
 * a colour. Each bar names itself on hover, and the same runs are a table under "as a table".
 * The manager keeps the last 10 runs per check; the page keeps what it saw while open.
 */
import { html } from 'htm/preact/standalone';
import { clock, duration } from './format.js';
import type { ResultView } from './model.js';

/** Runs kept per task and check while the page is open. */
const KEPT = 60;
const seen = new Map<string, ResultView[]>();

/** Adds the manager's latest runs to what this page saw of `key`; oldest first. */
export function remember(key: string, latest: ResultView[]): ResultView[] {
  const known = seen.get(key) ?? [];
  const last = known.at(-1)?.at ?? -Infinity;
  const merged = [...known, ...latest.filter((r) => r.at > last)].slice(-KEPT);
  seen.set(key, merged);
  return merged;
}

const W = 320;
const H = 64;
const TOP = 10;

export function Timeline({ results, label, now }: { results: ResultView[]; label: string; now: number }) {
  if (results.length === 0) return html`<p class="muted small">No runs yet.</p>`;
  const from = Math.min(results[0]!.at, now - 60_000);
  const span = Math.max(1, now - from);
  const longest = Math.max(...results.map((r) => r.durationMs), 1);
  const x = (at: number) => 4 + ((at - from) / span) * (W - 12);
  const failures = results.filter((r) => r.outcome === 'failure').length;
  const unknown = results.filter((r) => r.outcome === 'unknown').length;
  const last = results.at(-1)!;
  const summary =
    `${label}: ${results.length} runs since ${clock(results[0]!.at)}, ${failures} failed, ${unknown} unknown; ` +
    `last ${last.outcome} (${last.detail}) taking ${duration(last.durationMs)}`;
  return html`<figure class="timeline">
    <svg viewBox="0 0 ${W} ${H + 14}" role="img" aria-label=${summary}>
      <line x1="0" y1=${H} x2=${W} y2=${H} class="axis" />
      ${results.map((r) => {
        const cx = x(r.at);
        const h = Math.max(2, (r.durationMs / longest) * (H - TOP - 6));
        return html`<g key=${r.at} class="run o-${r.outcome}">
          <title>
            ${clock(r.at)}: ${r.outcome}, ${duration(r.durationMs)}, ${r.detail}${r.counted ? '' : ' (not counted)'}
          </title>
          <rect x=${cx - 2} y=${H - h} width="4" height=${h} />
          ${marker(r, cx, H - h - 5)}
        </g>`;
      })}
      <text x="0" y=${H + 12} class="tick">${clock(from)}</text>
      <text x=${W} y=${H + 12} class="tick" text-anchor="end">now · longest ${duration(longest)}</text>
    </svg>
    <details>
      <summary>${label}: runs as a table</summary>
      <table class="small">
        <thead>
          <tr>
            <th scope="col">Time</th>
            <th scope="col">Outcome</th>
            <th scope="col">Took</th>
            <th scope="col">Result</th>
          </tr>
        </thead>
        <tbody>
          ${[...results].reverse().map(
            (r) =>
              html`<tr key=${r.at}>
                <td>${clock(r.at)}</td>
                <td>${r.outcome}${r.counted ? '' : ' (not counted)'}</td>
                <td>${duration(r.durationMs)}</td>
                <td>${r.detail}</td>
              </tr>`,
          )}
        </tbody>
      </table>
    </details>
  </figure>`;
}

function marker(r: ResultView, cx: number, cy: number) {
  if (r.outcome === 'success') return html`<circle cx=${cx} cy=${cy} r="3" />`;
  if (r.outcome === 'failure')
    return html`<path d="M${cx - 3} ${cy - 3} L${cx + 3} ${cy + 3} M${cx + 3} ${cy - 3} L${cx - 3} ${cy + 3}" />`;
  return html`<text x=${cx} y=${cy + 3} text-anchor="middle" class="q">?</text>`;
}
