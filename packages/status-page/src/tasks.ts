/**
 * A service's tasks on its page. Each live task is a card with its checks' recent runs, up to
 * CARDS_SHOWN of them, those in trouble first (cards.ts); the others are rows of one table. A card
 * with two timelines is hundreds of elements: a thousand of them froze the tab.
 */
import { html } from 'htm/preact/standalone';
import { HealthBadge, Table } from './common.js';
import { cardsFirst } from './cards.js';
import { ago } from './format.js';
import type { TaskView } from './model.js';
import { Timeline, remember } from './timeline.js';

const ROW_COLUMNS = ['Slot', 'Task', 'State', 'Node', 'Health', 'Ready'];

export function Tasks({ tasks, now }: { tasks: TaskView[]; now: number }) {
  const { cards, rows } = cardsFirst(tasks.filter((t) => t.desiredState === 'running'));
  const ended = tasks.filter((t) => t.desiredState !== 'running');
  return html`<section aria-labelledby="tasks-h">
    <h2 id="tasks-h">Tasks</h2>
    <div class="cards" data-testid="tasks">
      ${cards.map((t) => html`<${TaskCard} key=${t.id} t=${t} now=${now} />`)}
    </div>
    ${
      rows.length > 0
        ? html`<h3 id="task-rows-h">${rows.length} more tasks</h3>
            <p class="muted small">Cards show ${cards.length} tasks, those in trouble first.</p>
            <${Table} testid="task-rows" labelledBy="task-rows-h" headers=${ROW_COLUMNS}>
              ${rows.map((t) => html`<${TaskRow} key=${t.id} t=${t} now=${now} />`)}
            <//>`
        : ''
    }
    ${
      ended.length > 0
        ? html`<h3>Ended recently</h3>
            <div class="cards ended" data-testid="ended">
              ${ended.map((t) => html`<${TaskCard} key=${t.id} t=${t} now=${now} />`)}
            </div>`
        : ''
    }
  </section>`;
}

function TaskCard({ t, now }: { t: TaskView; now: number }) {
  const running = t.state === 'running' && t.desiredState === 'running';
  return html`<article class="card" data-task=${t.id} data-slot=${t.slot} aria-labelledby=${`task-${t.id}`}>
    <h3 id=${`task-${t.id}`}>Slot ${t.slot} · <code>${t.id.slice(0, 12)}</code></h3>
    <p>
      <span data-testid="state">${t.state}</span>${` on ${t.node || 'no node yet'}, ${ago(t.updatedAt, now)}`}
      ${running || t.health !== 'none' ? html`${' · '}<${HealthBadge} health=${t.health} />` : ''}
      ${running ? html`${' · '}<span data-testid="ready">${t.ready ? 'ready' : 'not ready'}</span>` : ''}
    </p>
    ${
      t.error || (t.state !== 'running' && t.message)
        ? html`<p class=${t.error ? 'warn' : 'muted'} data-testid="message">${t.error || t.message}</p>`
        : ''
    }
    ${t.checks.map((c) => {
      const label = c.phases.join(' + ');
      const statuses = c.statuses.map((x) => `${x.phase} ${x.status}`).join(', ');
      return html`<div key=${label} class="check">
        <h4>${label} <span class="muted small">(${statuses})</span></h4>
        <${Timeline} results=${remember(`${t.id}:${label}`, c.results)} label=${label} now=${now} />
      </div>`;
    })}
  </article>`;
}

function TaskRow({ t, now }: { t: TaskView; now: number }) {
  return html`<tr data-task=${t.id} data-slot=${t.slot}>
    <td>${t.slot}</td>
    <td><code>${t.id.slice(0, 12)}</code></td>
    <td>${t.state}, ${ago(t.updatedAt, now)}</td>
    <td>${t.node || 'no node yet'}</td>
    <td><${HealthBadge} health=${t.health} /></td>
    <td>${t.state === 'running' ? (t.ready ? 'ready' : 'not ready') : ''}</td>
  </tr>`;
}
