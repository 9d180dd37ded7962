/** Parts both pages use: the header with the connection state, health badges, the event list. */
import { html } from 'htm/preact/standalone';
import type { ComponentChildren } from 'preact';
import { HEALTH_SYMBOL, ago, clock, type Verdict } from './format.js';
import type { EventView, TaskHealth } from './model.js';
import type { Connection } from './live.js';

const CONNECTION_WORDS: Record<Connection, string> = {
  connecting: '○ connecting…',
  live: '● live',
  reconnecting: '○ reconnecting…',
};

/** The connection's state in words: `connecting…` until the stream first opens (not an error), then `live`. */
export function Header({ connection, version }: { connection: Connection; version: string }) {
  return html`<header class="top">
    <a class="brand" href="/">Warren</a>
    <span class="muted">${version ? `manager ${version}` : ''}</span>
    <p class="conn ${connection}" role="status">${CONNECTION_WORDS[connection]}</p>
    <p class="muted ro">Read-only · this host only</p>
  </header>`;
}

export function HealthBadge({ health }: { health: TaskHealth }) {
  const label = health === 'none' ? 'no checks' : health;
  return html`<span class="badge h-${health}"
    ><span aria-hidden="true">${HEALTH_SYMBOL[health]} </span>${label}</span
  >`;
}

const VERDICT_SYMBOL: Record<Verdict, string> = { ok: '✓', degraded: '!', failing: '✗' };

export function VerdictBadge({ verdict }: { verdict: Verdict }) {
  return html`<span class="badge v-${verdict}"
    ><span aria-hidden="true">${VERDICT_SYMBOL[verdict]} </span>${verdict}</span
  >`;
}

export function Events({ events, now, withService }: { events: EventView[]; now: number; withService: boolean }) {
  return html`<section aria-labelledby="events-h">
    <h2 id="events-h">Events</h2>
    ${
      events.length === 0
        ? html`<p class="muted">No events yet.</p>`
        : html`<ol class="events" data-testid="events">
            ${events.map(
              (e) =>
                html`<li key=${e.seq} class="ev ev-${e.type}">
                  <time datetime=${new Date(e.at).toISOString()} title=${ago(e.at, now)}>${clock(e.at)}</time>
                  <span class="ev-type">${e.type}</span>
                  ${withService && e.service ? html`<a href=${serviceHref(e.service)}>${e.service}</a>` : ''}
                  <span class="ev-reason">${e.reason}</span>
                </li>`,
            )}
          </ol>`
    }
  </section>`;
}

export function serviceHref(name: string): string {
  return `/services/${encodeURIComponent(name)}`;
}

/**
 * A table in its own scrolling box (so a narrow window scrolls the table, not the page), which
 * Tab can reach, named by the section heading `labelledBy`.
 */
export function Table(props: {
  testid: string;
  labelledBy: string;
  headers: readonly string[];
  children?: ComponentChildren;
}) {
  return html`<div class="scroll" tabindex="0" role="region" aria-labelledby=${props.labelledBy}>
    <table data-testid=${props.testid}>
      <thead>
        <tr>
          ${props.headers.map((h) => html`<th key=${h} scope="col">${h}</th>`)}
        </tr>
      </thead>
      <tbody>
        ${props.children}
      </tbody>
    </table>
  </div>`;
}
